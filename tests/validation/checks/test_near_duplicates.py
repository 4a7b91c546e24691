"""--near-dup: MinHash clusters reported row by row, their first kept by --write-clean, on every path."""

from __future__ import annotations

import json
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation import validate
from validation.checks import parallel
from validation.checks.near_duplicates import NearDupOptions, NearDuplicates, components, lsh_parameters
from validation.report import Findings

ANSWER = ("Photosynthesis turns light, water and carbon dioxide into sugar and oxygen; it happens in the "
          "chloroplasts of plant cells.")
QUESTION = "Explain photosynthesis to a ten-year-old in two sentences, please."
KO_Q = "광합성을 열 살 아이에게 두 문장으로 설명해 주세요. 쉬운 말로 부탁합니다."
KO_A = "식물은 햇빛과 물과 이산화탄소로 당과 산소를 만듭니다. 이 일은 잎의 엽록체에서 일어납니다."


def row(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


ROWS = [
    row(QUESTION, ANSWER),                                                     # 1: first of cluster A
    row("What is the boiling point of water at sea level?", "100 °C (212 °F)."),  # 2: alone
    row(QUESTION.replace("please.", "please!"), ANSWER.replace(";", ",")),      # 3: A, punctuation only
    row(KO_Q, KO_A),                                                           # 4: first of cluster B
    row(QUESTION, ANSWER),                                                     # 5: A, an exact repeat
    row(KO_Q.replace("부탁합니다.", "부탁합니다!!"), KO_A),                        # 6: B
    row("Name three primary colours.", "Red, yellow and blue."),                # 7: alone
]


def write(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def fuzzy(report) -> list[tuple[int, str]]:
    return [(i.row, i.message) for i in report.issues if i.code == "fuzzy-duplicate"]


def cluster_message(first: int, size: int) -> str:
    return (f"near-duplicate of row {first} (a cluster of {size} rows; MinHash LSH at similarity 0.8 over "
            "10-character shingles)")


EXPECTED = [(3, cluster_message(1, 3)), (5, cluster_message(1, 3)), (6, cluster_message(4, 2))]


def test_each_row_after_its_clusters_first_is_an_error_naming_the_first_and_the_size(tmp_path):
    write(tmp_path / "d.jsonl", ROWS)
    report = validate(tmp_path / "d.jsonl", near_dup=True, write_clean=tmp_path / "clean.jsonl")
    assert fuzzy(report) == EXPECTED
    assert (report.rows, report.valid, report.invalid) == (7, 4, 3)
    assert report.near_duplicates.to_json() == {
        "threshold": 0.8, "shingle": 10, "num_perm": 128, "bands": 9, "rows_per_band": 13,
        "scope": "conversation", "rows_compared": 7, "clusters": 2, "rows_in_clusters": 5, "dropped": 3,
        "sizes": {"2": 1, "3": 1}}
    lines = (tmp_path / "d.jsonl").read_bytes().splitlines(keepends=True)
    assert (tmp_path / "clean.jsonl").read_bytes() == b"".join(lines[k - 1] for k in (1, 2, 4, 7))
    # the exact repeat stays a duplicate warning too
    assert [(i.row, i.code) for i in report.issues if i.code == "duplicate"] == [(5, "duplicate")]


def test_without_near_dup_nothing_is_clustered_and_the_report_has_no_section(tmp_path):
    write(tmp_path / "d.jsonl", ROWS)
    report = validate(tmp_path / "d.jsonl")
    assert fuzzy(report) == [] and report.near_duplicates is None
    assert "near_duplicates" not in report.to_json()


@pytest.mark.parametrize("suffix", [".json", ".parquet", ".csv"])
def test_other_kinds_of_file_and_fix_drop_the_same_rows(tmp_path, suffix):
    import polars as pl

    from validation.outputs import write_rows

    source = tmp_path / f"d{suffix}"
    rows = ROWS if suffix != ".csv" else [{"question": r["messages"][0]["content"],
                                           "answer": r["messages"][1]["content"]} for r in ROWS]
    write_rows(source, rows)
    for fix in (False, True):
        out = tmp_path / f"clean{fix}.jsonl"
        report = validate(source, near_dup=True, write_clean=out, fix=fix)
        assert [row for row, _ in fuzzy(report)] == [3, 5, 6], fix
        kept = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
        assert kept == [rows[k - 1] for k in (1, 2, 4, 7)], fix
    assert pl  # (polars reads the parquet file)


def test_worker_processes_find_the_same_clusters(monkeypatch, tmp_path):
    rows = [ROWS[k % len(ROWS)] | {"id": k // len(ROWS)} for k in range(70)]  # ten copies of each, ids aside
    write(tmp_path / "d.jsonl", rows)
    whole = validate(tmp_path / "d.jsonl", near_dup=True, write_clean=tmp_path / "one.jsonl")
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 900)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(sys.modules["validation.validate"], "default_workers", lambda: 3)
    split = validate(tmp_path / "d.jsonl", near_dup=True, write_clean=tmp_path / "many.jsonl")
    assert split.to_json() == whole.to_json()
    assert (tmp_path / "many.jsonl").read_bytes() == (tmp_path / "one.jsonl").read_bytes()
    # rows 1, 2, 4, 7 are each a cluster's first; every other row joins one of them
    assert [i.row for i in split.issues if i.code == "fuzzy-duplicate"] == \
        [r for r in range(1, 71) if r not in (1, 2, 4, 7)]


def test_the_assistant_scope_clusters_rows_that_give_one_answer_to_different_questions(tmp_path):
    rows = [row("How do plants make food?", ANSWER), row("What happens in a chloroplast?", ANSWER),
            row("How do plants make food?", "They use sunlight.")]
    write(tmp_path / "d.jsonl", rows)
    assert fuzzy(validate(tmp_path / "d.jsonl", near_dup=True)) == []
    report = validate(tmp_path / "d.jsonl", near_dup=NearDupOptions(scope="assistant"))
    assert [r for r, _ in fuzzy(report)] == [2]
    report = validate(tmp_path / "d.jsonl", near_dup=NearDupOptions(scope="user"))
    assert [r for r, _ in fuzzy(report)] == [3]


def test_a_cluster_bridged_by_a_later_row_keeps_the_earliest_first():
    # rows 0 and 1 share nothing; row 2 shares a band with each: one cluster, first row 0
    keys = np.array([[1, 10], [2, 20], [1, 20], [3, 30]], dtype=np.uint64)
    assert components(keys).tolist() == [0, 0, 0, 3]


def test_the_cli_prints_the_summary_and_refuses_a_threshold_outside_0_1(cli, tmp_path):
    write(tmp_path / "d.jsonl", ROWS)
    result = cli("validate", tmp_path / "d.jsonl", "--near-dup", "--json")
    assert result.code == 1 and result.json()["near_duplicates"]["clusters"] == 2
    assert [(i["row"], i["message"]) for i in result.json()["issues"] if i["code"] == "fuzzy-duplicate"] == EXPECTED
    human = cli("validate", tmp_path / "d.jsonl", "--near-dup", "0.9", "--shingle", "5")
    assert ("near-duplicates: 2 clusters holding 5 of 7 rows; 3 rows after their cluster's first (MinHash LSH at "
            "0.9: 5 bands of 25, 5-character shingles of the conversation)") in " ".join(human.out.split())
    for bad, says in (("1", "1 is not between 0 and 1"), ("x", "'x' is not a number")):
        result = cli("validate", tmp_path / "d.jsonl", "--near-dup", bad)
        assert result.code == 2 and f"argument --near-dup: {says}" in result.err


def test_lsh_parameters_place_the_s_curve_at_the_threshold():
    for threshold in (0.5, 0.7, 0.8, 0.9):
        b, r = lsh_parameters(threshold, 128)
        assert b * r <= 128
        caught = lambda j: 1 - (1 - j ** r) ** b  # noqa: E731
        assert caught(threshold - 0.2) < 0.2 and caught(min(threshold + 0.15, 1.0)) > 0.8, threshold


TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=60)


@settings(max_examples=60, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=12), copies=st.lists(st.integers(0, 11), max_size=8))
def test_exact_duplicates_always_share_one_cluster(texts, copies):
    """Property: every copy of a row is in the cluster of the first copy (whatever else joins it)."""
    order = texts + [texts[k % len(texts)] for k in copies]
    near = NearDuplicates("messages", NearDupOptions(shingle=4))
    near.add(list(range(1, len(order) + 1)), ["ua\x1f" + t + "\x1fok" for t in order])
    findings = Findings()
    near.resolve(findings)
    first_of = {i.row: int(i.message.split()[3]) for i in findings.kept}
    cluster = lambda row: first_of.get(row, row)  # noqa: E731
    for row, text in enumerate(order, start=1):
        earliest = order.index(text) + 1
        assert cluster(row) == cluster(earliest)


def test_stats_counts_the_clusters_validate_reports_by_size(cli, tmp_path):
    from validation import stats

    write(tmp_path / "d.jsonl", ROWS)
    found = stats(tmp_path / "d.jsonl", near_dup=True).summary.near_duplicates
    assert found == validate(tmp_path / "d.jsonl", near_dup=True).near_duplicates
    assert found.sizes == {2: 1, 3: 1}
    assert "near_duplicates" not in stats(tmp_path / "d.jsonl").summary.to_json()
    printed = cli("stats", tmp_path / "d.jsonl", "--near-dup", "--json")
    assert printed.json()["near_duplicates"] == found.to_json()
    from validation.statistics.report import overview_lines

    lines = dict(overview_lines(stats(tmp_path / "d.jsonl", near_dup=True).summary))
    assert lines["near-duplicate clusters (MinHash 0.8, conversation)"] == \
        "2 holding 5 of 7 conversations; 3 beyond each cluster's first"
    assert lines["near-duplicate cluster sizes (clusters)"] == "2 rows: 1, 3 rows: 1"


def test_a_row_with_errors_is_no_clusters_first(tmp_path):
    """The first copy lacks a reward column: it is left out, so the second copy is kept, not dropped."""
    prompt = [{"role": "user", "content": QUESTION}]
    write(tmp_path / "p.jsonl", [{"prompt": prompt}, {"prompt": prompt, "answer": "a"},
                                 {"prompt": prompt, "answer": "b"}])
    report = validate(tmp_path / "p.jsonl", near_dup=True, reward_columns={"answer": "string"})
    assert [(i.row, i.code) for i in report.issues if i.severity == "error"] == [
        (1, "missing-field"), (3, "fuzzy-duplicate")]
    assert fuzzy(report)[0][1].startswith("near-duplicate of row 2 ")


def test_validate_imports_numpy_and_rensa_only_when_the_corpus_checks_are_asked_for(tmp_path):
    import subprocess

    write(tmp_path / "d.jsonl", ROWS)
    code = ("import sys, instructkit\ninstructkit.main(sys.argv[1:])\n"
            "print(sorted(m for m in ('numpy', 'rensa', 'torch') if m in sys.modules), file=sys.stderr)")
    for extra, imported in (([], "[]"), (["--near-dup"], "['numpy', 'rensa']")):
        done = subprocess.run([sys.executable, "-c", code, "validate", str(tmp_path / "d.jsonl"), "--json", *extra],
                              capture_output=True, text=True, timeout=120)
        assert done.stderr.strip().splitlines()[-1] == imported, done.stderr


def test_stats_plot_draws_the_cluster_sizes_beside_the_lengths(tmp_path):
    from validation import stats

    write(tmp_path / "d.jsonl", ROWS)
    figure = stats(tmp_path / "d.jsonl", near_dup=True).figure(__import__("matplotlib.pyplot").pyplot)
    titles = [axis.get_title() for axis in figure.axes]
    assert titles[2] == "near-duplicate clusters (2; 3 rows beyond their first)"
    bars = figure.axes[2].patches
    assert [(tick.get_text(), bar.get_height()) for tick, bar in zip(figure.axes[2].get_xticklabels(), bars)] == [
        ("2", 1), ("3", 1)]
    assert len(stats(tmp_path / "d.jsonl").figure(__import__("matplotlib.pyplot").pyplot).axes) == 2

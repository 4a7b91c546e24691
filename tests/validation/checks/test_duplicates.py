"""Duplicate detection in bounded memory, and findings with exact counts and bounded examples."""

from __future__ import annotations

import io
import json

from hypothesis import given
from hypothesis import strategies as st

from tests.strategies import hash_rows
from validation import validate
from validation.checks.duplicates import Duplicates
from validation.report import Findings, Issue


def reference(hashes: list[tuple[int, int]]) -> list[tuple[int, str, str]]:
    """Each row against the first row with the same exact hash, else the same folded hash."""
    found = []
    for row, (exact, folded) in enumerate(hashes, start=1):
        first_exact = next(r for r, h in enumerate(hashes, start=1) if h[0] == exact)
        first_folded = next(r for r, h in enumerate(hashes, start=1) if h[1] == folded)
        if first_exact != row:
            found.append((row, "duplicate", f"same as row {first_exact}"))
        elif first_folded != row:
            found.append((row, "near-duplicate", f"same as row {first_folded} after case and whitespace folding"))
    return found


@given(hash_rows, st.integers(1, 8), st.integers(1, 7), st.sampled_from([0, 3, 10**6]))
def test_resolving_in_batches_finds_what_resolving_all_at_once_finds(hashes, batch, chunk, small):
    """In batches or at once, with Polars, or in Python for a small first batch (then Polars)."""
    seen, findings = Duplicates("messages", batch=batch, small=small), Findings()
    for start in range(0, len(hashes), chunk):
        part = hashes[start:start + chunk]
        seen.add(range(start + 1, start + len(part) + 1), [h[0] for h in part], [h[1] for h in part])
        seen.settle(findings)
    seen.resolve(findings)
    assert sorted((i.row, i.code, i.message) for i in findings.kept) == reference(hashes)
    assert sum(findings.counts.values()) == len(reference(hashes))


def test_a_million_copies_of_one_row_keep_one_first():
    seen, findings = Duplicates("messages", batch=1000), Findings(keep=3)
    for start in range(0, 1_000_000, 10_000):
        seen.add(range(start + 1, start + 10_001), [7] * 10_000, [8] * 10_000)
        seen.settle(findings)
        assert len(seen.rows) <= 10_000 + 1000
    seen.resolve(findings)
    assert seen._firsts.height == 1
    assert [(i.row, i.message) for i in findings.kept] == [(2, "same as row 1"), (3, "same as row 1"),
                                                          (4, "same as row 1")]
    assert findings.counts == {"duplicate": 999_999}


def test_findings_keep_the_first_of_each_code_count_all_and_stream_every_one():
    stream = io.BytesIO()
    findings = Findings(keep=2, stream=stream)
    issues = [Issue.make(row, "messages", code, "m") for row in range(1, 6) for code in ("duplicate", "empty-content")]
    findings.add(issues)
    assert [(i.row, i.code) for i in findings.kept] == [(1, "duplicate"), (1, "empty-content"), (2, "duplicate"),
                                                        (2, "empty-content")]
    assert findings.counts == {"duplicate": 5, "empty-content": 5}
    assert [json.loads(line)["row"] for line in stream.getvalue().splitlines()] == [i.row for i in issues]


def test_validate_lists_max_issues_per_code_and_counts_every_issue(tmp_path):
    rows = [{"question": "same?", "answer": "yes"}] * 50 + [{"question": "", "answer": "x"}] * 4
    report = validate(rows, max_issues=3, issues_jsonl=tmp_path / "all.jsonl")
    assert [(i.row, i.code) for i in report.issues] == [(2, "duplicate"), (3, "duplicate"), (4, "duplicate"),
                                                        (51, "empty-content"), (52, "empty-content"),
                                                        (53, "empty-content")]
    assert report.counts() == {"duplicate": 49, "empty-content": 4}  # rows with errors are not compared
    assert report.issues_left_out == 49 + 4 - 6
    assert report.to_json()["counts"] == report.counts() and report.to_json()["issues_left_out"] == 47
    every = [Issue.model_validate_json(line) for line in (tmp_path / "all.jsonl").read_bytes().splitlines()]
    assert sorted(every, key=lambda i: (i.row, i.code)) == sorted(validate(rows).issues, key=lambda i: (i.row, i.code))


def test_cli_max_issues_and_issues_jsonl(cli, tmp_path):
    source = tmp_path / "d.jsonl"
    source.write_text("".join(json.dumps({"question": f"q{i % 3}", "answer": "a"}) + "\n" for i in range(30)))
    result = cli("validate", str(source), "--max-issues", "2", "--issues-jsonl", str(tmp_path / "all.jsonl"), "--json")
    assert result.code == 0
    assert [i["row"] for i in result.json()["issues"]] == [4, 5]
    assert result.json()["counts"] == {"duplicate": 27} and result.json()["issues_left_out"] == 25
    assert len((tmp_path / "all.jsonl").read_bytes().splitlines()) == 27
    human = cli("validate", str(source), "--max-issues", "2")
    assert "27 issues" in human.out and "25 issues counted but not listed" in human.out and "25 more" in human.out

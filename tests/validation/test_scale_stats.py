"""A sharded `stats` (validation/scale/stats.py) gives the summary `stats` gives for the shards joined into one file:
for rows of every kind, any cut into shards and units and any number of tasks (Hypothesis), plain and compressed,
in other formats and in Parquet, with a tokenizer and a template in worker processes, from the command line
(resumed, refusing what it cannot do), through the jobs Slurm would run, and on a local Ray cluster."""

from __future__ import annotations

import gzip
import json
import subprocess
import tempfile
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.validation.scale_helpers import BIN, cut, gsm8k_shards, run_as_slurm, slurm_stand_ins
from validation.checks.near_duplicates import NearDupOptions
from validation.scale.stats import stats_shards
from validation.scale.units import Checks
from validation.statistics.conversations import stats

SCHEMA = {"type": "object", "required": ["answer"]}
RED = Path(__file__).resolve().parents[1] / "data" / "broken" / "images" / "red.png"


def _row(kind: int, text: str) -> str:
    """A row of one of several kinds: plain, with a system prompt (two prompts), a reasoning field, a think block,
    tool calls and their result, a tool result alone, empty and whitespace-only content, a reply that is JSON, a
    picture, an image URL, text that names an "image", and rows stats skips or cannot read (no messages, a number as
    content, broken JSON, a blank line)."""
    user, reply = {"role": "user", "content": text}, {"role": "assistant", "content": f"A: {text}"}
    call = {"role": "assistant", "content": "", "tool_calls": [
        {"type": "function", "function": {"name": "look", "arguments": {"q": text}}}]}
    rows = [{"messages": [user, reply]},
            {"messages": [{"role": "system", "content": "Be brief."}, user, reply]},
            {"messages": [{"role": "system", "content": text}, user, reply]},
            {"messages": [user, {**reply, "reasoning_content": f"think {text}"}]},
            {"messages": [user, {"role": "assistant", "content": f"<think>{text}</think>\n{text}"}]},
            {"messages": [user, call, {"role": "tool", "content": "42"}, reply],
             "tools": [{"type": "function", "function": {"name": "look", "parameters": {
                 "type": "object", "properties": {"q": {"type": "string"}}}}}]},
            {"messages": [user, {"role": "tool", "content": text}, reply]},
            {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": " \n"}]},
            {"messages": [user, {"role": "assistant", "content": json.dumps({"answer": text})}]},
            {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": text}]}, reply],
             "images": [str(RED)]},
            {"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {
                "url": "https://example.com/a.png"}}, {"type": "text", "text": text}]}, reply]},
            {"messages": [{"role": "user", "content": f'the "image" of {text}'}, reply]},
            {"messages": []},
            {"messages": [user, {"role": "assistant", "content": 7}]}]
    if kind < len(rows):
        return json.dumps(rows[kind], ensure_ascii=False)
    return "" if kind == len(rows) else '{"messages": [oops'


def _summary(found) -> dict:  # noqa: ANN001 - Stats
    return found.summary.to_json()


texts = st.sampled_from(["hello", "안녕하세요", "ça va?", "数学 🙂", "مرحبا", "x" * 40, "HELLO  "])
rows = st.lists(st.tuples(st.integers(0, 15), texts), min_size=1, max_size=40)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, cuts=st.lists(st.integers(0, 40), max_size=4), tasks=st.integers(1, 3),
       unit_bytes=st.sampled_from([64, 300, 1 << 20]), compressed=st.booleans(), max_length=st.sampled_from([None, 30]),
       near=st.sampled_from([None, NearDupOptions(threshold=0.5, shingle=3)]))
def test_any_cut_into_shards_units_and_tasks_gives_the_joined_files_summary(rows, cuts, tasks, unit_bytes, compressed,
                                                                            max_length, near):
    lines = [_row(kind, text) for kind, text in rows]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        joined, shards = cut(folder, lines, [c for c in cuts if c <= len(lines)])
        if compressed:  # (the C reader over what a shard decompresses to)
            for shard in shards:
                Path(shard + ".gz").write_bytes(gzip.compress(Path(shard).read_bytes()))
                Path(shard).unlink()
            shards = [shard + ".gz" for shard in shards]
        single = stats(joined, format="messages", max_length=max_length, response_schema=SCHEMA, near_dup=near)
        sharded = stats_shards(shards, Checks(format="messages", max_length=max_length, response_schema=SCHEMA,
                                              near_dup=near),
                               logs=folder / "logs", tasks=tasks, workers=1, unit_bytes=unit_bytes)
        assert _summary(sharded) == _summary(single)
        assert sorted(sharded.frame["chars"].to_list()) == sorted(single.frame["chars"].to_list())
        assert sorted(sharded.conversations["length"].to_list()) == sorted(single.conversations["length"].to_list())
        assert (sharded.images is None) == (single.images is None)


def _qa(kind: int, text: str) -> str:
    """qa rows (read row by row, not by the C reader): plain, with tools named (tools are counted only when one of
    the first 200 rows has them), without an answer, broken."""
    rows = [{"question": text, "answer": f"A: {text}"},
            {"question": text, "answer": text, "tools": [{"type": "function", "function": {"name": "f"}}]},
            {"question": text}]
    return json.dumps(rows[kind], ensure_ascii=False) if kind < len(rows) else "[1, 2"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 3), texts), min_size=1, max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=3), tasks=st.integers(1, 3),
       unit_bytes=st.sampled_from([64, 1 << 20]), first_tools=st.sampled_from([None, 0, 190, 199, 200]))
def test_rows_read_one_by_one_give_the_joined_files_summary(rows, cuts, tasks, unit_bytes, first_tools):
    lines = [_qa(kind if kind != 1 else 0, text) for kind, text in rows]
    if first_tools is not None:  # the first row with tools at this row of the dataset
        lines = [_qa(0, "q")] * first_tools + [_qa(1, "tool")] + lines
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        joined, shards = cut(folder, lines, [c for c in cuts if c <= len(lines)])
        single = stats(joined, format="qa")
        sharded = stats_shards(shards, Checks(format="qa"), logs=folder / "logs", tasks=tasks, workers=1,
                               unit_bytes=unit_bytes)
        assert _summary(sharded) == _summary(single)
        assert (single.summary.tools is not None) == (first_tools is not None and first_tools < 200)


def test_parquet_shards_give_the_joined_parquet_files_summary(tmp_path):
    import polars as pl

    joined, _ = gsm8k_shards(tmp_path, shards=3)
    frame = pl.read_ndjson(joined)
    frame.write_parquet(tmp_path / "all.parquet")
    (tmp_path / "pq").mkdir()
    for n, start in enumerate(range(0, frame.height, 500)):
        frame.slice(start, 500).write_parquet(tmp_path / "pq" / f"part-{n}.parquet")
    single = stats(tmp_path / "all.parquet")
    sharded = stats_shards([tmp_path / "pq"], Checks(format=""), logs=tmp_path / "logs", tasks=2, workers=2)
    assert _summary(sharded) == _summary(single) and single.summary.rows == frame.height


def test_a_tokenizer_and_a_template_travel_to_worker_processes(tmp_path, smollm2_tokenizer):
    """Tokens, trainable tokens under smollm2 and truncation at 200 rendered tokens, counted by the units' tasks
    in worker processes, with reasoning in some replies."""
    from instructkit import Names

    joined, _ = gsm8k_shards(tmp_path, shards=3)
    with joined.open("a", encoding="utf-8") as f:
        for k in range(3):
            f.write(_row(3 + k % 2, "생각 " * (20 * k + 1)) + "\n")
    (tmp_path / "shards" / "part-003.jsonl").write_bytes(b"".join(joined.read_bytes().splitlines(keepends=True)[-3:]))
    template = Names().template("smollm2")
    single = stats(joined, tokenizer=smollm2_tokenizer, template=template, max_length=200)
    sharded = stats_shards([tmp_path / "shards"], Checks(format="", tokenizer=smollm2_tokenizer, template=template,
                                                         max_length=200),
                           logs=tmp_path / "logs", tasks=2, workers=2, unit_bytes=150_000)
    assert _summary(sharded) == _summary(single)
    assert single.summary.tokens.method == "template" and single.summary.reasoning.tokens is not None
    assert sharded.conversations["length"].to_list() == single.conversations["length"].to_list()


def test_the_command_line_resumed_with_figures_compared_and_refusing_an_output_that_is_a_shard(cli, tmp_path):
    joined, shards = gsm8k_shards(tmp_path)
    single = cli("stats", joined, "--max-length", "400", "--near-dup", "0.6", "--json")
    args = ["stats", *shards, "--max-length", "400", "--near-dup", "0.6", "--executor", "local", "--tasks", "3",
            "--logs", tmp_path / "logs"]
    for _ in range(2):  # the second run skips every unit
        result = cli(*args, "--json", "--plot", tmp_path / "lengths.png", "--html", tmp_path / "report.html")
        assert result.code == 0, result.err
        assert {**result.json(), "path": None} == {**single.json(), "path": None}
    assert single.json()["near_duplicates"]["clusters"] > 0  # (the rows repeated across shards)
    assert (tmp_path / "lengths.png").read_bytes().startswith(b"\x89PNG")
    assert "<h2>length per message (characters)</h2>" in (tmp_path / "report.html").read_text()
    assert len(list((tmp_path / "logs" / "stages" / "stats" / "completions").iterdir())) == 3
    assert json.loads((tmp_path / "logs" / "stats.json").read_text())["rows"] == single.json()["rows"]
    shown = cli(*args)
    said = " ".join((shown.out + shown.err).split())
    assert "(+4 more) (messages)" in said and "length per message (characters)" in said
    result = cli(*args, "--compare", shards[0], "--json")  # (the first shard's rows: each is in the whole too)
    expected = cli("stats", joined, "--max-length", "400", "--near-dup", "0.6", "--compare", shards[0], "--json").json()
    compared = result.json()
    assert compared["b_rows_in_a_exact"] == compared["b"]["rows"] > 0
    assert {**compared, "a": {**compared["a"], "path": None}} == {**expected, "a": {**expected["a"], "path": None}}
    result = cli(*args, "--json-out", shards[1])
    assert result.code == 2 and f"cannot write {shards[1]}: it is the input" in result.err, result.err


def _pair(kind: int, text: str) -> str:
    """Preference rows: a pair, a tie, replies that begin alike, message lists, unpaired rows of either label, and
    rows that are not a pair (no rejected reply, broken JSON)."""
    rows = [{"prompt": text, "chosen": f"Yes, {text}.", "rejected": "No."},
            {"prompt": text, "chosen": text, "rejected": text},
            {"prompt": text, "chosen": f"{text} is right", "rejected": f"{text} is wrong, {text}"},
            {"prompt": [{"role": "user", "content": text}], "chosen": [{"role": "assistant", "content": "A."}],
             "rejected": [{"role": "assistant", "content": text.upper()}]},
            {"prompt": text, "completion": f"Sure: {text}", "label": True},
            {"prompt": text, "completion": "no", "label": False},
            {"prompt": text, "chosen": "only one side"}]
    return json.dumps(rows[kind], ensure_ascii=False) if kind < len(rows) else "{oops"


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 7), texts), min_size=1, max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=3), tasks=st.integers(1, 3),
       unit_bytes=st.sampled_from([64, 1 << 20]), unpaired=st.booleans())
def test_preference_shards_give_the_joined_files_pair_statistics(rows, cuts, tasks, unit_bytes, unpaired):
    """Pairs (DPO) or unpaired rows (KTO), described as `stats` describes the joined file: lengths, length bias,
    ties, replies that begin alike, labels, duplicates."""
    kinds = (4, 5, 6, 7) if unpaired else (0, 1, 2, 3, 6, 7)
    lines = [_pair(kinds[kind % len(kinds)], text) for kind, text in rows]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        joined, shards = cut(folder, lines, [c for c in cuts if c <= len(lines)])
        fmt = "unpaired" if unpaired else "preference"
        single = stats(joined, format=fmt)
        sharded = stats_shards(shards, Checks(format=fmt), logs=folder / "logs", tasks=tasks, workers=1,
                               unit_bytes=unit_bytes)
        assert _summary(sharded) == _summary(single)
        assert sharded.frame["prompt_length"].to_list() == single.frame["prompt_length"].to_list()


def test_stats_queued_on_slurm_writes_the_joined_files_summary_when_its_jobs_run(tmp_path):
    joined, shards = gsm8k_shards(tmp_path, shards=3)
    queued, env = slurm_stand_ins(tmp_path)
    logs = tmp_path / "logs"
    run = subprocess.run([BIN / "instructkit", "stats", *shards, "--executor", "slurm", "--partition", "cpu",
                          "--tasks", "2", "--logs", str(logs), "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"queued": "slurm", "logs": str(logs), "report": str(logs / "stats.json")}
    assert len([s for s in queued.iterdir() if "merge_stats" not in s.read_text()]) == 2  # stats, then summary
    run_as_slurm(logs, (("stats", 2), ("summary", 1)), env, tmp_path)
    summary = json.loads((logs / "stats.json").read_text())
    assert summary == {"path": f"{shards[0]} (+2 more)", "format": "messages", **_summary(stats(joined))}

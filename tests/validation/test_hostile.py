"""Hostile inputs: each gives the right result or one clear line, in bounded memory and time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation import _rowscan
from validation.readers import decode
from validation.readers.source import open_dataset

LINE_MB = 64


def peak_mb(*args: str, codes: tuple[int, ...] = (0,)) -> tuple[float, str]:
    """(peak RSS in MB, stdout) of `instructkit ARGS` in a fresh process that exits with one of `codes`."""
    code = ("import resource, sys, instructkit; code = instructkit.main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode in codes, done.stderr
    return float(done.stderr.strip().splitlines()[-1]), done.stdout


def test_one_huge_line_is_checked_in_memory_a_few_times_its_size(tmp_path):
    path = tmp_path / "huge.jsonl"
    reply = "word " * (LINE_MB << 18)  # LINE_MB MB of text in one message
    path.write_text(json.dumps({"messages": [{"role": "user", "content": "hi"},
                                             {"role": "assistant", "content": reply}]}) + "\n")
    small = tmp_path / "small.jsonl"
    small.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}\n')
    base, _ = peak_mb("stats", str(small), "--json", "-")  # the process itself: Python, Polars, the CLI
    for command in (["validate", str(path), "--json"], ["stats", str(path), "--json", "-"]):
        peak, out = peak_mb(*command)
        found = json.loads(out)
        assert (found["valid"] if command[0] == "validate" else found["rows"]) == 1
        assert peak - base < 4 * LINE_MB, (command[0], peak, base)  # 200 MB: 3.3 times, was 6


def test_json_nested_100000_deep_is_an_error_on_its_row(cli, tmp_path):
    path = tmp_path / "deep.jsonl"
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    path.write_text(good + "\n" + '{"messages": ' + "[" * 100_000 + "]" * 100_000 + "}\n" + good + "\n")
    result = cli("validate", str(path), "--json")
    assert result.code == 1
    assert [(i["row"], i["code"]) for i in result.json()["issues"]] == [(2, "too-deeply-nested"), (3, "duplicate")]


@pytest.mark.parametrize("depth", [511, 512, 513, 995, 1010, 1024])
def test_every_command_draws_the_depth_limit_where_validate_does(cli, tmp_path, depth):
    """A row nested `depth` levels in its metadata (the messages object adds one): validate, convert, render and
    stats keep it, or refuse it as too deeply nested, alike. Before one limit held for every reader, validate
    (orjson, to 1,024) passed rows of 990-1,024 levels that convert and render (stdlib json, to Python's
    recursion limit) then dropped as nested "deeper than 1024 levels"; stats' writer of the row crashed."""
    path = tmp_path / "deep.jsonl"
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]
    rows = [json.dumps({"messages": messages, "meta": "@"}).replace('"@"', "[" * (depth - 1) + "1" + "]" * (depth - 1)),
            json.dumps({"messages": [*messages[:1], {"role": "assistant", "content": "other"}]})]
    path.write_text("\n".join(rows) + "\n")
    kept = depth <= 512
    found = cli("validate", str(path), "--json").json()
    assert (found["valid"], [(i["row"], i["code"]) for i in found["issues"]]) == \
        ((2, []) if kept else (1, [(1, "too-deeply-nested")]))
    if not kept:
        assert found["issues"][0]["message"] == "nesting deeper than 512 levels"
    for command in (["convert", "--to", "sharegpt"], ["render", "--template", "chatml"]):
        out = tmp_path / f"{command[0]}.jsonl"
        done = cli(command[0], str(path), *command[1:], "-o", str(out))
        assert done.code in (0, 1), done.output
        assert len(out.read_text().splitlines()) == (2 if kept else 1), (command, done.output)
    stats = cli("stats", str(path), "--json")
    assert stats.code == 0, stats.output
    assert (stats.json()["rows"], stats.json()["skipped_rows"]) == ((2, 0) if kept else (1, 1))


def test_nul_bytes_raw_escaped_or_as_padding_are_errors_on_their_rows(cli, tmp_path):
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    escaped = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "y\x00o"}]})
    path = tmp_path / "nul.jsonl"
    path.write_bytes(b"\n".join([good.encode(), escaped.replace("\\u0000", "\x00").encode(), escaped.encode(),
                                 b"\x00" * 4096, b""]))  # the last: what a crash leaves where data was not written
    result = cli("validate", str(path), "--json")
    assert result.code == 1
    assert [(i["row"], i["path"], i["code"]) for i in result.json()["issues"]] == [
        (2, "", "invalid-json"), (3, "messages[1].content", "control-character"), (4, "", "invalid-json")]


def test_a_row_cut_inside_an_escape_is_an_error_on_its_row_at_every_cut(tmp_path):
    """An interrupted write that stops inside a `\\uXXXX` escape, as the last line or with rows after
    it: validate reports `invalid-json` on that row, stats skips it, at every byte of the cut.
    (The C readers once spun forever on fewer than six bytes of escape left.) In a child process
    with a time limit, so that a reader that spins fails this test instead of hanging the suite."""
    good = json.dumps({"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
    cut = json.dumps({"messages": [{"role": "user", "content": "안녕 😀 세계"}, {"role": "assistant", "content": "x"}]})
    start = cut.index("\\u")
    code = """if True:
        import io, json, sys, contextlib, instructkit
        good, cut, start, folder = json.loads(sys.argv[1])
        found = []
        for end in range(start, cut.index('"}') + 1):
            for after in ("", "\\n" + good.replace("yo", "yo2")):
                path = f"{folder}/cut.jsonl"
                open(path, "w").write(good + "\\n" + cut[:end] + after + "\\n")
                for command in ("validate", "stats"):
                    out = io.StringIO()
                    with contextlib.redirect_stdout(out):
                        exit_code = instructkit.main([command, path, "--json"] + (["-"] if command == "stats" else []))
                    report = json.loads(out.getvalue())
                    found.append([exit_code, [(i["row"], i["code"]) for i in report["issues"]]] if command == "validate"
                                 else [exit_code, report["rows"], report["skipped_rows"]])
        print(json.dumps(found))
    """
    done = subprocess.run([sys.executable, "-c", code, json.dumps([good, cut, start, str(tmp_path)])],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)
    cuts = len(range(start, cut.index('"}') + 1))
    assert found == [[1, [[2, "invalid-json"]]], [0, 1, 1], [1, [[2, "invalid-json"]]], [0, 2, 1]] * cuts


def test_a_file_truncated_while_stats_reads_it_is_one_clear_line(tmp_path):
    """stats maps the file: another program that truncates it meanwhile takes pages away, and a
    read of one raises SIGBUS. Truncated while the C reader reads, or after it and before the
    summary: exit 2 and one line naming the file, not a crash. In a child process, so that a
    SIGBUS that got through fails this test instead of ending the suite."""
    path = tmp_path / "rows.jsonl"
    row = '{"messages": [{"role": "system", "content": "be %d"}, {"role": "user", "content": "hello %d"}, ' \
          '{"role": "assistant", "content": "hi"}]}\n'
    code = """if True:
        import io, os, sys, contextlib, instructkit
        from validation.readers import source
        from validation.statistics import frames
        path, when = sys.argv[1:]
        mapped, part_frames = source.Dataset.mapped, frames._part_frames
        def truncating_mapped(self, start=0, end=None):
            view = mapped(self, start, end)
            if when == "reading":
                os.truncate(path, 4096)  # the pages the C reader is about to read are gone
            return view
        def truncating_part_frames(*args):
            if when == "summary":
                os.truncate(path, os.path.getsize(path) - 10)
            return part_frames(*args)
        source.Dataset.mapped, frames._part_frames = truncating_mapped, truncating_part_frames
        err = io.StringIO()
        with contextlib.redirect_stderr(err):
            code = instructkit.main(["stats", path])
        print(code, err.getvalue().strip())
    """
    for when in ("reading", "summary"):
        path.write_text("".join(row % (i % 7, i) for i in range(100_000)))
        done = subprocess.run([sys.executable, "-c", code, str(path), when], capture_output=True, text=True,
                              timeout=120)
        assert done.returncode == 0, (when, done.returncode, done.stderr)
        assert done.stdout.strip() == (f"2 instructkit stats: error: {path}: the file changed while it was read "
                                       "(it is shorter now); read it again once nothing writes to it"), when


# --- rows over the row limit (--max-row-bytes) -----------------------------------------------------

GOOD = {"messages": [{"role": "user", "content": "안녕"}, {"role": "assistant", "content": "yo"}]}
LAST = {"messages": [{"role": "user", "content": "مرحبا 👋"}, {"role": "assistant", "content": "hé"}]}


def _with_long_row(path, size: int):
    """GOOD, a row of about `size` bytes, LAST (compressed by the suffix)."""
    import gzip

    long_row = json.dumps({"messages": [{"role": "user", "content": "가" * (size // 3)},
                                        {"role": "assistant", "content": "x"}]}, ensure_ascii=False)
    data = "\n".join([json.dumps(GOOD, ensure_ascii=False), long_row, json.dumps(LAST, ensure_ascii=False)]) + "\n"
    raw = data.encode()
    path.write_bytes(gzip.compress(raw) if path.suffix == ".gz" else raw)
    return len(long_row.encode())


@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz"])
@pytest.mark.parametrize("extra", [[], ["--format", "messages"], ["--fix"]])
def test_a_row_over_the_limit_is_an_error_on_its_row_and_the_rest_is_checked(cli, tmp_path, name, extra):
    path = tmp_path / name
    size = _with_long_row(path, 30_000)
    result = cli("validate", path, "--max-row-bytes", "10000", "--json", "--write-clean", tmp_path / "clean.jsonl",
                 *extra)
    assert result.code == 1
    found = result.json()
    assert (found["rows"], found["valid"]) == (3, 2)
    assert [(i["row"], i["path"], i["code"], i["message"]) for i in found["issues"]] == [
        (2, "", "row-too-large", f"the row is {size:,} bytes, over the limit of 10,000 (--max-row-bytes); it was "
         "skipped without being read into memory")]
    assert [json.loads(line) for line in (tmp_path / "clean.jsonl").read_text().splitlines()] == [GOOD, LAST]


def test_workers_reading_ranges_skip_a_row_over_the_limit(monkeypatch, tmp_path):
    from validation import validate
    from validation.checks import parallel

    path = tmp_path / "d.jsonl"
    _with_long_row(path, 30_000)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(sys.modules["validation.validate"], "default_workers", lambda: 3)
    report = validate(open_dataset(path, max_row_bytes=10_000))
    assert [(i.row, i.code) for i in report.issues] == [(2, "row-too-large")]


@pytest.mark.parametrize("name", ["d.jsonl", "d.jsonl.gz"])
def test_stats_and_convert_skip_a_row_over_the_limit(cli, tmp_path, name):
    path = tmp_path / name
    _with_long_row(path, 30_000)
    found = cli("stats", path, "--max-row-bytes", "10000", "--json").json()
    assert (found["rows"], found["skipped_rows"]) == (2, 1)
    result = cli("convert", path, "--max-row-bytes", "10000", "-o", tmp_path / "out.jsonl", "--to", "sharegpt",
                 "--json")
    assert result.code == 1 and [i["code"] for i in result.json()["issues"]] == ["row-too-large"]
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2


def test_a_line_as_long_as_the_limit_is_read(cli, tmp_path):
    path = tmp_path / "d.jsonl"
    size = _with_long_row(path, 30_000)
    assert cli("validate", path, "--max-row-bytes", str(size), "--json").json()["valid"] == 3
    assert cli("validate", path, "--max-row-bytes", str(size - 1), "--json").json()["valid"] == 2


def test_a_compression_bomb_of_one_line_is_read_in_memory_bounded_by_the_limit(tmp_path):
    import gzip

    path = tmp_path / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=1) as f:  # 2 KB of gzip per MB of line
        f.write(json.dumps(GOOD).encode() + b"\n" + b'{"messages": [{"role": "user", "content": "')
        for _ in range(LINE_MB * 4):
            f.write(b"a" * (1 << 20))
        f.write(b'"}]}\n' + json.dumps(GOOD).encode() + b"\n")
    small = tmp_path / "small.jsonl"
    small.write_text(json.dumps(GOOD) + "\n")
    for command in ("validate", "stats"):
        base, _ = peak_mb(command, str(small), "--json")
        peak, out = peak_mb(command, str(path), "--json", "--max-row-bytes", str(1 << 20), codes=(0, 1))
        found = json.loads(out)
        assert found["rows"] == (3 if command == "validate" else 2)
        assert peak - base < 64, (command, peak, base)  # a line of 256 MB, a limit of 1 MB: ~20 MB, was 560


# --- one row never takes a whole command down --------------------------------------------------

def _deep_arguments_row(depth: int) -> dict:
    return {"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
            "messages": [{"role": "user", "content": "hi"},
                         {"role": "assistant", "content": None, "tool_calls": [
                             {"type": "function", "function": {"name": "f", "arguments": "[" * depth + "]" * depth}}]},
                         {"role": "tool", "content": "ok"}, {"role": "assistant", "content": "done"}]}


@pytest.mark.parametrize("depth", [1500, 100_000])
def test_call_arguments_nested_past_the_limit_as_json_text_are_an_error_on_their_row(cli, tmp_path, depth):
    path = tmp_path / "deep.jsonl"
    path.write_text(json.dumps(_deep_arguments_row(depth)) + "\n" + json.dumps(GOOD) + "\n")
    found = cli("validate", path, "--json").json()
    assert (found["rows"], found["valid"]) == (2, 1)
    assert [(i["row"], i["path"], i["code"], i["message"]) for i in found["issues"]] == [
        (1, "messages[1].tool_calls[0].function.arguments", "invalid-arguments",
         "call of 'f': arguments are text that is not JSON (nesting deeper than 512 levels)")]
    assert cli("stats", path, "--json").json()["rows"] == 2
    assert cli("convert", path, "-o", tmp_path / "out.jsonl", "--to", "sharegpt").code == 0


def test_stats_reads_a_conversation_of_more_than_65535_messages(cli, tmp_path):
    path = tmp_path / "long.jsonl"
    messages = [{"role": ("user", "assistant")[i % 2], "content": "x"} for i in range(70_000)]
    path.write_text(json.dumps({"messages": messages}) + "\n" + json.dumps(GOOD) + "\n")
    found = cli("stats", path, "--json").json()
    assert found["rows"] == 2 and found["turns_per_conversation"]["max"] == 70_000


CSV_EXTRA = "question,answer\nq1,a1\nq2,a2,extra\n\"q3, with a comma\",a3\n"


@pytest.mark.parametrize("command", ["validate", "convert", "stats"])
def test_a_csv_row_with_more_cells_than_the_header_is_an_error_on_its_row(cli, tmp_path, command):
    path = tmp_path / "d.csv"
    path.write_text(CSV_EXTRA)
    out = tmp_path / "out.jsonl"
    args = {"validate": ["--write-clean", out], "convert": ["-o", out, "--to", "messages"], "stats": []}[command]
    result = cli(command, path, *args, "--json")
    if command == "stats":
        assert (result.json()["rows"], result.json()["skipped_rows"]) == (2, 1)
        return
    assert result.code == 1
    assert [(i["row"], i["code"], i["message"]) for i in result.json()["issues"]] == [
        (2, "csv-extra-cells", "the row has 3 cells, the header 2: quote a cell that holds the delimiter ',', or "
         "name every column in the header")]
    assert len(out.read_text().splitlines()) == 2


def test_a_file_that_is_not_csv_named_csv_is_one_line(cli, tmp_path):
    path = tmp_path / "passwd.csv"
    path.write_text("root:x:0:0:root,,,:/root:/bin/bash\ndaemon:x:1:1:daemon,x:/usr/sbin:/usr/sbin/nologin\n")
    result = cli("validate", path)
    assert result.code == 2
    assert result.err.startswith(f"instructkit validate: error: {path}: cannot tell the format")


# --- messages that say what the input is ----------------------------------------------------------

ROW_TEXT = json.dumps(GOOD, ensure_ascii=False) + "\n"


@pytest.mark.parametrize(("name", "content", "says"), [
    ("u16.jsonl", ROW_TEXT.encode("utf-16"), "the text is UTF-16, not UTF-8; convert it first, e.g. "
                                             "`iconv -f UTF-16 -t UTF-8 {path} > {folder}/u16.utf8.jsonl`"),
    ("u16le.jsonl", ROW_TEXT.encode("utf-16-le"), "the text is UTF-16, not UTF-8"),
    ("u32.jsonl", ROW_TEXT.encode("utf-32"), "the text is UTF-32, not UTF-8"),
    ("array.jsonl", json.dumps([GOOD, LAST], indent=1).encode(), "holds one JSON array, not one JSON object a line; "
     "name it .json (it is read as an array then), or convert it: `instructkit convert {folder}/array.json -o "
     "{path} --to messages`"),
    ("empty.jsonl", b"", "the file is empty (no rows)"),
    ("blank.jsonl", b"\n \n", "the file is empty (no rows)"),
])
def test_a_file_no_format_fits_is_named_for_what_it_is(cli, tmp_path, name, content, says):
    path = tmp_path / name
    path.write_bytes(content)
    result = cli("validate", path)
    assert result.code == 2
    assert result.err.startswith(f"instructkit validate: error: {path}: {says.format(path=path, folder=tmp_path)}")


@pytest.mark.parametrize("extra", [["--format", "messages"], ["--format", "messages", "--fix"]])
def test_an_empty_file_with_a_named_format_is_refused_and_writes_nothing(cli, tmp_path, extra):
    path = tmp_path / "empty.jsonl"
    path.write_text("\n")
    result = cli("validate", path, *extra, "--write-clean", tmp_path / "clean.jsonl")
    assert result.code == 2
    assert result.err == f"instructkit validate: error: {path}: no rows to check (the dataset is empty)\n"
    assert not (tmp_path / "clean.jsonl").exists()


def test_a_symlink_loop_and_a_dangling_link_are_named_as_such(cli, tmp_path):
    (tmp_path / "a.jsonl").symlink_to(tmp_path / "b.jsonl")
    (tmp_path / "b.jsonl").symlink_to(tmp_path / "a.jsonl")
    (tmp_path / "gone.jsonl").symlink_to("nowhere.jsonl")
    assert cli("validate", tmp_path / "a.jsonl").err == \
        f"instructkit validate: error: {tmp_path / 'a.jsonl'}: a symlink loop (its links point back to each other)\n"
    assert cli("validate", tmp_path / "gone.jsonl").err == \
        f"instructkit validate: error: {tmp_path / 'gone.jsonl'}: a symlink to nowhere.jsonl, which does not exist\n"


# --- correctness details ------------------------------------------------------------------------

def test_the_same_messages_with_other_tools_are_not_duplicates(cli, tmp_path):
    tool = {"type": "function", "function": {"name": "a", "parameters": {"type": "object"}}}
    other = {"type": "function", "function": {"name": "b", "parameters": {"type": "object"}}}
    rows = [{"tools": [tool], **GOOD}, {"tools": [other], **GOOD}, {"tools": json.dumps([tool]), **GOOD}, GOOD]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    found = cli("validate", path, "--json").json()
    assert [(i["row"], i["code"], i["message"]) for i in found["issues"]] == [(3, "duplicate", "same as row 1")]


REASONING_ONLY = {"messages": [{"role": "user", "content": "2+2?"},
                               {"role": "assistant", "content": "", "reasoning_content": "2+2 is 4."}]}


@pytest.mark.parametrize(("template", "codes"), [
    (None, ["empty-content"]),  # no template: nothing says the reasoning is trained
    ("qwen3", []),  # prints reasoning_content: the reply trains its reasoning
    ("smollm2", ["empty-content", "reasoning-dropped"]),  # drops it: the reply trains nothing
])
def test_an_empty_answer_with_reasoning_follows_what_the_template_trains(cli, tmp_path, template, codes):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(REASONING_ONLY) + "\n")
    found = cli("validate", path, "--json", *(["--template", template] if template else [])).json()
    assert [i["code"] for i in found["issues"]] == codes


def test_a_pair_that_differs_only_in_case_and_spacing_is_called_near_identical(cli, tmp_path):
    chosen = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "Four."}]
    rejected = [{"role": "user", "content": "what is  2+2?"}, {"role": "assistant", "content": "four."}]
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps({"chosen": chosen, "rejected": rejected}) + "\n")
    found = cli("validate", path, "--json").json()
    assert [(i["path"], i["code"]) for i in found["issues"]] == [("rejected", "near-identical-pair"),
                                                                ("rejected[0]", "no-shared-prompt")]


def test_a_share_that_rounds_to_none_or_all_keeps_a_decimal():
    from validation.statistics.pairs import percent

    assert [percent(x) for x in (0.0, 0.005, 0.0001, 0.42, 0.995, 0.9996, 1.0)] == \
        ["0%", "0.5%", "0.01%", "42%", "99.5%", "99.96%", "100%"]


HIDDEN = "call \u202egnp.exe"  # a right-to-left override: shows as "call exe.png"


@pytest.mark.parametrize("extra", [[], ["--format", "messages"], ["--fix"], ["--template", "chatml"]])
def test_a_bidirectional_override_is_a_warning_on_its_message_in_every_path(cli, monkeypatch, tmp_path, extra):
    rows = [GOOD, {"messages": [{"role": "user", "content": HIDDEN}, {"role": "assistant", "content": "ok"}]},
            {"messages": [{"role": "user", "content": "마크 \u200f 괜찮아요 — “fine”"},
                          {"role": "assistant", "content": "isolate \u2066x\u2069"}]}]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    found = cli("validate", path, "--json", *extra).json()
    assert found["valid"] == 3
    assert [(i["row"], i["path"], i["code"], i["severity"], i["message"]) for i in found["issues"]] == [
        (2, "messages[0].content", "bidi-control", "warning",
         "bidirectional control U+202E at offset 5: it reorders how the text is displayed"),
        (3, "messages[1].content", "bidi-control", "warning",
         "bidirectional control U+2066 at offset 8: it reorders how the text is displayed")]


def test_a_bidirectional_override_is_found_by_workers_in_tool_rows_and_in_pairs(monkeypatch, tmp_path):
    from validation import validate
    from validation.checks import parallel

    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}
    calls = {"tools": [tool], "messages": [
        {"role": "user", "content": "hi"},
        {"role": "assistant", "content": None, "tool_calls": [{"type": "function", "function": {"name": "f",
                                                                                               "arguments": {}}}]},
        {"role": "tool", "content": HIDDEN}, {"role": "assistant", "content": "done"}]}
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + json.dumps(calls) + "\n")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(sys.modules["validation.validate"], "default_workers", lambda: 2)
    assert [(i.row, i.path, i.code) for i in validate(path).issues] == [(2, "messages[2].content", "bidi-control")]
    pair = {"prompt": [{"role": "user", "content": "hi"}], "chosen": [{"role": "assistant", "content": HIDDEN}],
            "rejected": [{"role": "assistant", "content": "no"}]}
    assert [i.code for i in validate([pair]).issues] == ["bidi-control"]


DUPLICATED = [
    ('{"messages":[{"role":"user","content":"hi","content":"bye"},{"role":"assistant","content":"yo"}]}', "content"),
    ('{"id":1,"id":2,"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"yo"}]}', "id"),
    ('{"meta":{"a":1,"b":{"a":2},"a":3},"messages":[{"role":"user","content":"hey"},{"role":"assistant",'
     '"content":"yo"}]}', "a"),  # inside a field the C prover skips
    ('{"messages":[{"role":"user","content":"a \\" \\\\","x":{"k":1,"j":[{"k":2}]}},'
     '{"role":"assistant","content":"yo"}]}', None),  # escapes in strings, one key at two depths: no repeat
]


@pytest.mark.parametrize("extra", [[], ["--format", "messages"], ["--fix"]])
def test_a_key_written_twice_in_one_object_is_a_warning_on_its_row(cli, tmp_path, extra):
    path = tmp_path / "d.jsonl"
    path.write_text("".join(line + "\n" for line, _ in DUPLICATED))
    found = cli("validate", path, "--json", *extra).json()
    assert found["valid"] == len(DUPLICATED)
    assert [(i["row"], i["code"], i["severity"], i["message"]) for i in found["issues"]] == [
        (row, "duplicate-key", "warning", f"key {key!r} is written twice in one object: JSON readers keep the last "
         "value, silently") for row, (_, key) in enumerate(DUPLICATED, start=1) if key]


def test_workers_find_a_key_written_twice(monkeypatch, tmp_path):
    from validation import validate
    from validation.checks import parallel

    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(GOOD) + "\n" + DUPLICATED[1][0] + "\n")
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(sys.modules["validation.validate"], "default_workers", lambda: 2)
    assert [(i.row, i.code) for i in validate(path).issues] == [(2, "duplicate-key")]


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(st.sampled_from('a"\\\\é가😀{}[],:')),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner,
                                                                               max_size=3), max_leaves=12),
       st.booleans())
def test_duplicate_key_finds_a_repeat_exactly_where_one_object_has_one(value, ensure_ascii):
    from validation._rowscan import duplicate_key

    line = json.dumps({"v": value}, ensure_ascii=ensure_ascii).encode()
    assert duplicate_key(line) is None  # json.dumps never repeats a key
    if isinstance(value, dict) and value:
        key = json.dumps(next(iter(value)), ensure_ascii=ensure_ascii)
        repeated = line[:-2] + b", " + key.encode() + b": 0}}"  # the same key again in the inner object
        assert duplicate_key(repeated) == key.encode()[1:-1]


@given(st.text(st.sampled_from("a\t\n\r\x00\x07\x1f\x7fé\x85가\u2029\u202a\u202b\u202e\u202f\u2065\u2066\u2069\u206a😀"),
               max_size=40), st.sampled_from(["", "é", "가", "😀"]))
def test_the_c_scan_finds_control_and_bidi_characters_as_the_patterns_do(text, storage):
    from validation._rowscan import has_control_char
    from validation.checks.messages import BIDI, CONTROL

    text += storage  # Latin-1, UCS-2 and UCS-4 storage, the SIMD blocks and their tails
    assert has_control_char(text) == bool(CONTROL.search(text) or BIDI.search(text))


# --- loads(precise=True) walks a decoded row for depth and lone surrogates only where its bytes allow them ---


def walked(raw: bytes):
    """The precise decoder as it was: every decoded row walked."""
    try:
        value = decode.loads(raw, precise=True)
    except decode.DecodeError as exc:
        return exc.code
    try:
        decode.check_depth(value)
        decode._check_surrogates(value)
    except decode.DecodeError as exc:
        return exc.code
    return value


def outcome(raw: bytes, precise: bool = True):
    try:
        return decode.loads(raw, precise=precise)
    except decode.DecodeError as exc:
        return exc.code


pieces = st.sampled_from(['"a"', '"\\ud800"', '"\\udfff"', '"\\ud83d\\ude00"', '"\\\\ud800"', '"\\u00e9"', '"한"',
                          "1", "null", '"[{"'])


@st.composite
def nested(draw) -> bytes:
    depth = draw(st.sampled_from([0, 1, 5, 511, 512, 513, 1000, 1023, 1024, 1025, 1100]))
    opener, closer = draw(st.sampled_from([("[", "]"), ('{"k":', "}")]))
    return (opener * depth + draw(pieces) + closer * depth).encode()


@settings(max_examples=200, deadline=None)
@given(raw=st.one_of(nested(), st.lists(pieces, max_size=6).map(lambda xs: ("[" + ",".join(xs) + "]").encode())))
def test_the_walk_is_left_out_only_where_it_could_find_nothing(raw):
    assert outcome(raw) == walked(raw) == outcome(raw, precise=False)  # orjson's path: the same values and codes


@settings(max_examples=300, deadline=None)
@given(raw=st.lists(st.sampled_from([b"[", b"{", b"x", b"]", b'"', "한".encode(), b"[" * 40, b"{" * 300]),
                    max_size=200).map(b"".join),
       limit=st.integers(0, 5000))
def test_the_bracket_count_in_c_is_the_count(raw, limit):
    """`opens_over` (SSE2 blocks of 16 bytes, summed 255 blocks at a time, then the tail) against `bytes.count`."""
    assert _rowscan.opens_over(raw, limit) == (raw.count(b"[") + raw.count(b"{") > limit)


@pytest.mark.parametrize("depth", [511, 512, 513, 1000, 1024, 1025])
def test_one_depth_limit_for_the_fast_and_the_precise_reader_and_for_json_text_in_a_row(depth):
    for raw in (b"[" * depth + b"]" * depth, b'{"k":' * depth + b"1" + b"}" * depth):
        for precise in (False, True):
            if depth <= decode.MAX_DEPTH:
                assert decode.loads(raw, precise=precise) is not None
                assert decode.loads_text(raw.decode()) is not None
            else:
                with pytest.raises(decode.DecodeError, match="nesting deeper than 512 levels") as found:
                    decode.loads(raw, precise=precise)
                assert found.value.code == "too-deeply-nested"
                with pytest.raises(decode.DecodeError, match="nesting deeper than 512 levels"):
                    decode.loads_text(raw.decode())


def test_rows_without_lone_surrogate_escapes_or_deep_brackets_are_not_walked(monkeypatch):
    def walk(*_):
        raise AssertionError("walked")
    monkeypatch.setattr(decode, "_check_surrogates", walk)
    monkeypatch.setattr(decode, "check_depth", walk)
    assert decode.loads('{"messages": [{"role": "user", "content": "안녕 é 😀"}]}'.encode(), precise=True)
    assert decode.loads(b'{"content": "\\uc548\\ub155 \\ud83d\\ude00 \\\\ud800"}', precise=True) == \
        {"content": "안녕 😀 \\ud800"}  # escaped Hangul, a pair, an escaped backslash before "ud800"
    many_brackets = b"[" + b",".join([b"[]"] * 600) + b"]"  # (shallow, but more than 512 of them: walked)
    for walked_row in (b'{"content": "\\ud800"}', many_brackets):
        with pytest.raises(AssertionError, match="walked"):
            decode.loads(walked_row, precise=True)

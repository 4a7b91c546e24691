"""Hostile inputs: each gives the right result or one clear line, in bounded memory and time."""

from __future__ import annotations

import json
import subprocess
import sys

LINE_MB = 64


def peak_mb(*args: str) -> tuple[float, str]:
    """(peak RSS in MB, stdout) of `instructkit ARGS` in a fresh process."""
    code = ("import resource, sys, instructkit; code = instructkit.main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr); sys.exit(code)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
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
        from validation import source, stats_read
        path, when = sys.argv[1:]
        mapped, part_frames = source.Dataset.mapped, stats_read._part_frames
        def truncating_mapped(self, start=0, end=None):
            view = mapped(self, start, end)
            if when == "reading":
                os.truncate(path, 4096)  # the pages the C reader is about to read are gone
            return view
        def truncating_part_frames(*args):
            if when == "summary":
                os.truncate(path, os.path.getsize(path) - 10)
            return part_frames(*args)
        source.Dataset.mapped, stats_read._part_frames = truncating_mapped, truncating_part_frames
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

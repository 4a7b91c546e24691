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

"""Where outputs go (`validation.outputs`): a file is replaced atomically with its mode kept, a
device, FIFO or `-` is streamed to, a symlink's target is replaced (the link stays), anything else
is refused in one line, a report is never written over an input, and killed writers' temporary
files are swept."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import stat
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.validation.test_atomic import chat_file
from validation.errors import InputError
from validation.outputs import open_for_writing, sweep_stale, target_of, write_rows

CLI = [sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())"]
ROW = {"messages": [{"role": "user", "content": "질문: 1+1?"}, {"role": "assistant", "content": "2"}]}
BAD = {"messages": [{"role": "user", "content": ""}, {"role": "assistant", "content": "2"}]}

# Every output option of every command, as (command line before OUT, the option, a file name for it).
# `{data}` is the dataset read.
OPTIONS = [
    (["validate", "{data}", "--write-clean"], "clean.jsonl"),
    (["validate", "{data}", "--issues-jsonl"], "issues.jsonl"),
    (["convert", "{data}", "--to", "sharegpt", "-o"], "out.jsonl"),
    (["stats", "{data}", "--json-out"], "stats.json"),
    (["stats", "{data}", "--json"], "stats.json"),  # the deprecated `--json OUT`
    (["stats", "{data}", "--plot"], "lengths.png"),
    (["stats", "{data}", "--html"], "report.html"),
    (["render", "{data}", "--template", "chatml", "-o"], "rendered.jsonl"),
]
IDS = [" ".join(words[2:] if words[0] != "convert" else words[-1:]) for words, _ in OPTIONS]
REPORTS = [(words, name) for words, name in OPTIONS if "--write-clean" not in words and "convert" not in words]


@pytest.fixture
def data(tmp_path: Path) -> Path:
    path = tmp_path / "data.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in (ROW, BAD, ROW)), encoding="utf-8")
    return path


def _args(words: list[str], data: Path, out: str | Path) -> list[str]:
    return [w.format(data=data) for w in words] + [str(out)]


def _state(path: Path) -> tuple:
    """What a path is, as far as a write could change it without being its documented output."""
    info = os.lstat(path)
    link = os.readlink(path) if stat.S_ISLNK(info.st_mode) else None
    listing = sorted(os.listdir(path)) if stat.S_ISDIR(info.st_mode) else None
    return stat.S_IFMT(info.st_mode), info.st_ino, info.st_rdev, link, listing


def _left(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# --- what is at the path decides how it is written ------------------------------------------------

@pytest.mark.parametrize(("words", "name"), OPTIONS, ids=IDS)
def test_a_character_device_is_written_to_and_stays_a_device(cli, data, tmp_path, words, name):
    device = tmp_path / "null"
    try:
        os.mknod(device, 0o666 | stat.S_IFCHR, os.makedev(1, 3))  # a /dev/null of our own: the real one stays safe
    except PermissionError:
        pytest.skip("making a device needs root")
    before = _state(device)
    result = cli(*_args(words, data, device))
    assert result.code in (0, 1), result.err
    assert _state(device) == before
    assert _left(tmp_path) == ["data.jsonl", "null"]


@pytest.mark.parametrize(("words", "name"), OPTIONS, ids=IDS)
def test_a_fifo_is_streamed_to_and_stays_a_fifo(cli, data, tmp_path, words, name):
    fifo = tmp_path / name
    os.mkfifo(fifo)
    got: list[bytes] = []
    reader = threading.Thread(target=lambda: got.append(fifo.read_bytes()))
    reader.start()
    before = _state(fifo)
    try:
        result = cli(*_args(words, data, fifo))
    finally:
        if reader.is_alive():  # nothing opened the FIFO: let the reader go (no wait if it just went)
            with contextlib.suppress(OSError):
                os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        reader.join(10)
    assert result.code in (0, 1), result.err
    assert _state(fifo) == before
    assert got and got[0], "nothing came through the FIFO"
    assert _left(tmp_path) == sorted(["data.jsonl", name])


@pytest.mark.parametrize(("words", "name"), OPTIONS, ids=IDS)
def test_a_symlink_stays_a_link_and_its_target_gets_the_output(cli, data, tmp_path, words, name):
    (tmp_path / "real").mkdir()
    target = tmp_path / "real" / name
    target.write_text("an earlier result\n")
    os.chmod(target, 0o640)
    link = tmp_path / name
    link.symlink_to(Path("real") / name)
    before = _state(link)
    result = cli(*_args(words, data, link))
    assert result.code in (0, 1), result.err
    assert _state(link) == before
    assert target.read_bytes() != b"an earlier result\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert _left(tmp_path / "real") == [name]


def test_a_dangling_symlink_gets_its_target_made(data, tmp_path):
    link = tmp_path / "out.jsonl"
    link.symlink_to("made.jsonl")
    assert write_rows(link, [ROW]) == 1
    assert link.is_symlink() and json.loads((tmp_path / "made.jsonl").read_text()) == ROW


@pytest.mark.parametrize(("words", "name"), OPTIONS, ids=IDS)
@pytest.mark.parametrize("kind", ["directory", "socket", "symlink loop"])
def test_what_is_not_a_file_device_or_fifo_is_refused_and_left_as_it_was(cli, data, tmp_path, words, name, kind):
    path = tmp_path / name
    if kind == "directory":
        path.mkdir()
        (path / "inside.txt").write_text("kept")
    elif kind == "socket":
        server = socket.socket(socket.AF_UNIX)
        server.bind(str(path))
    else:
        os.symlink(tmp_path / "other", path)
        os.symlink(path, tmp_path / "other")
    before = _state(path)
    result = cli(*_args(words, data, path))
    reason = {"directory": "it is a directory", "socket": "it is a socket; name a file, a FIFO, a character "
              "device or -", "symlink loop": "it is a symlink loop (its links point back to each other)"}[kind]
    assert result.code == 2
    assert result.err.endswith(f"error: cannot write {path}: {reason}\n")
    assert _state(path) == before
    if kind == "socket":
        server.close()


@pytest.mark.parametrize(("words", "name"), OPTIONS, ids=IDS)
def test_dash_writes_the_output_alone_to_stdout(data, tmp_path, words, name):
    done = subprocess.run([*CLI, *_args(words, data, "-")], capture_output=True, cwd=tmp_path)
    assert done.returncode in (0, 1), done.stderr
    assert _left(tmp_path) == ["data.jsonl"]
    if name.endswith(".png"):
        assert done.stdout.startswith(b"\x89PNG")
    elif name.endswith(".html"):
        assert done.stdout.startswith(b"<!doctype html>") and done.stdout.endswith(b"</html>\n")
    elif name.endswith(".json"):
        assert json.loads(done.stdout)["rows"] == 3
    else:  # JSON lines, nothing else: the human report went to stderr
        assert [json.loads(line) for line in done.stdout.splitlines()]


def test_dash_with_convert_writes_jsonl_to_stdout(cli, data):
    result = cli("convert", data, "--to", "sharegpt", "-o", "-")
    assert result.code == 0
    lines = [json.loads(line) for line in result.out.splitlines() if line.startswith("{\"conversations")]
    assert len(lines) == 3 and lines[0]["conversations"][0] == {"from": "human", "value": "질문: 1+1?"}


# --- never over an input ------------------------------------------------------------------------

@pytest.mark.parametrize(("words", "name"), REPORTS, ids=[" ".join(w[2:]) for w, _ in REPORTS])
@pytest.mark.parametrize("how", ["same path", "symlink", "hard link"])
def test_a_report_is_never_written_over_the_dataset(cli, data, tmp_path, words, name, how):
    out = {"same path": data, "symlink": tmp_path / "via-link.jsonl", "hard link": tmp_path / "hard.jsonl"}[how]
    if how == "symlink":
        out.symlink_to(data)
    elif how == "hard link":
        os.link(data, out)
    before = data.read_bytes()
    result = cli(*_args(words, data, out))
    same = "it is the input" if how == "same path" else "it is the same file as the input"
    option = {"-o": "--output"}.get(words[-1], words[-1])
    assert result.code == 2
    assert result.err.endswith(f"error: {option}: cannot write {out}: {same} {data}; write it to another file\n")
    assert data.read_bytes() == before


def test_a_report_is_never_written_over_the_compared_dataset_or_the_schema(cli, data, tmp_path):
    other = tmp_path / "other.jsonl"
    other.write_text(json.dumps(ROW) + "\n")
    result = cli("stats", data, "--compare", other, "--json-out", other)
    assert result.code == 2 and f"it is the input {other}" in result.err
    schema = tmp_path / "schema.json"
    schema.write_text('{"type": "object"}')
    result = cli("validate", data, "--response-schema", schema, "--issues-jsonl", schema)
    assert result.code == 2 and f"it is the input {schema}" in result.err
    assert schema.read_text() == '{"type": "object"}'


def test_the_library_refuses_an_issue_list_over_the_dataset(data):
    from validation import validate

    with pytest.raises(InputError, match=r"cannot write .*data\.jsonl: it is the input .*data\.jsonl"):
        validate(data, issues_jsonl=data)
    assert data.read_text().count("\n") == 3


def test_write_clean_and_convert_onto_their_input_are_the_documented_in_place_cases(cli, data):
    assert cli("validate", data, "--write-clean", data).code == 1
    assert [json.loads(line) for line in data.read_text().splitlines()] == [ROW, ROW]
    assert cli("convert", data, "--to", "sharegpt", "-o", data).code == 0
    assert "conversations" in json.loads(data.read_text().splitlines()[0])


# --- permissions --------------------------------------------------------------------------------

@pytest.mark.parametrize("mode", [0o600, 0o640, 0o444])
def test_a_replaced_file_keeps_its_mode(cli, data, mode):
    os.chmod(data, mode)
    assert cli("convert", data, "--to", "sharegpt", "-o", data).code == 0
    assert stat.S_IMODE(data.stat().st_mode) == mode


def test_a_replaced_file_keeps_its_owner_and_group_where_root_may_set_them(data, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("giving a file to another owner needs root")
    out = tmp_path / "out.jsonl"
    out.write_text("old\n")
    os.chown(out, 12345, 23456)
    write_rows(out, [ROW])
    info = out.stat()
    assert (info.st_uid, info.st_gid) == (12345, 23456)


def test_private_data_is_never_in_a_readable_temporary_file(tmp_path):
    out = tmp_path / "private.jsonl"
    out.write_text("old\n")
    os.chmod(out, 0o600)
    with open_for_writing(out, text=True) as f:
        (tmp,) = [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
        assert stat.S_IMODE(tmp.stat().st_mode) == 0o600
        f.write("new\n")
    assert out.read_text() == "new\n"


# --- temporary files of killed writers ------------------------------------------------------------

def _started_convert(source: Path, target: Path) -> subprocess.Popen:
    process = subprocess.Popen([*CLI, "convert", str(source), "-o", str(target), "--to", "sharegpt"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in target.parent.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the temporary file holds some rows
    assert process.poll() is None, "the convert ended before it could be stopped"
    return process


@pytest.mark.parametrize(("signum", "name"), [(signal.SIGTERM, "SIGTERM"), (signal.SIGHUP, "SIGHUP")])
def test_sigterm_and_sighup_leave_no_temporary_file(tmp_path, signum, name):
    source, out = chat_file(tmp_path / "big.jsonl", 60_000), tmp_path / "out"
    out.mkdir()
    process = _started_convert(source, out / "converted.jsonl")
    process.send_signal(signum)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    assert err.endswith(f"instructkit: terminated ({name})\n")
    assert _left(out) == []


def test_the_temporary_file_of_a_killed_writer_is_swept_by_the_next_write(tmp_path):
    source, out = chat_file(tmp_path / "big.jsonl", 60_000), tmp_path / "out"
    out.mkdir()
    target = out / "converted.jsonl"
    process = _started_convert(source, target)
    process.kill()
    process.communicate(timeout=60)
    (stale,) = _left(out)
    assert stale.startswith(f".converted.jsonl.{process.pid}@") and stale.endswith(".tmp")
    theirs = out / ".converted.jsonl.1@00000000.0badc0de.tmp"  # another host's: its PID means nothing here
    other = out / ".other.jsonl.999999999@x.0badc0de.tmp"
    theirs.write_text("kept")
    other.write_text("kept")
    write_rows(target, [ROW])
    assert _left(out) == sorted([theirs.name, other.name, "converted.jsonl"])


def test_the_temporary_file_of_a_live_writer_is_left_alone(tmp_path):
    target = tmp_path / "out.jsonl"
    with open_for_writing(target, text=True) as f:
        f.write("half")
        (mine,) = [p.name for p in tmp_path.iterdir()]
        assert sweep_stale(target) == []
        assert _left(tmp_path) == [mine]
    assert _left(tmp_path) == ["out.jsonl"]


def test_target_of_says_how_each_kind_is_written(tmp_path):
    fifo = tmp_path / "f"
    os.mkfifo(fifo)
    assert target_of(fifo).stream and target_of("/dev/null").stream
    assert target_of(tmp_path / "new.jsonl") == (tmp_path / "new.jsonl", False)

"""Outputs are atomic: a file appears complete or not at all, and a failed write is one clear line.

Each command writes to a temporary file beside its target and renames it into place only when
the whole output is written (`validation.readers.files.atomic_path`).
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from validation.errors import InputError
from validation.outputs import atomic_path, write_rows

CLI = [sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())"]


def chat_file(path: Path, rows: int) -> Path:
    with path.open("w", encoding="utf-8") as f:
        for i in range(rows):
            f.write(json.dumps({"messages": [{"role": "user", "content": f"질문 {i} " * 20},
                                             {"role": "assistant", "content": f"answer {i} " * 40}]},
                               ensure_ascii=False) + "\n")
    return path


def _source_and_empty_folder(tmp_path: Path, rows: int) -> tuple[Path, Path]:
    out = tmp_path / "out"
    out.mkdir()
    return chat_file(tmp_path / "big.jsonl", rows), out


def _left_in(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def _limit_file_size(limit: int):  # noqa: ANN202 - a preexec_fn
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_a_write_over_the_file_size_limit_leaves_nothing_and_says_why(tmp_path):
    source, out = _source_and_empty_folder(tmp_path, 3000)
    target = out / "converted.jsonl"
    done = subprocess.run([*CLI, "convert", str(source), "-o", str(target), "--to", "sharegpt"],
                          capture_output=True, text=True, preexec_fn=_limit_file_size(200_000))
    assert done.returncode == 2
    assert done.stderr == f"instructkit convert: error: cannot write {target}: file too large\n"
    assert _left_in(out) == []


def test_a_failed_write_leaves_the_file_that_was_there(tmp_path):
    source, out = _source_and_empty_folder(tmp_path, 3000)
    target = out / "clean.jsonl"
    target.write_text("an earlier result\n")
    done = subprocess.run([*CLI, "validate", str(source), "--write-clean", str(target)],
                          capture_output=True, text=True, preexec_fn=_limit_file_size(200_000))
    assert done.returncode == 2
    assert done.stderr == f"instructkit validate: error: cannot write {target}: file too large\n"
    assert target.read_text() == "an earlier result\n"
    assert _left_in(out) == ["clean.jsonl"]


def test_ctrl_c_in_the_middle_of_a_convert_leaves_no_output(tmp_path):
    source, out = _source_and_empty_folder(tmp_path, 60_000)
    target = out / "converted.jsonl"
    process = subprocess.Popen([*CLI, "convert", str(source), "-o", str(target), "--to", "sharegpt"],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 60
    while not any(p.stat().st_size for p in out.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.01)  # until the temporary file holds some rows
    assert process.poll() is None, "the convert ended before it could be interrupted"
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=60)
    assert process.returncode == 130
    assert err.endswith("instructkit: interrupted\n")
    assert _left_in(out) == []


def test_a_missing_output_folder_is_made_and_a_file_in_the_way_is_one_line(cli, tmp_path):
    source = chat_file(tmp_path / "d.jsonl", 3)
    target = tmp_path / "no" / "such" / "out.jsonl"
    result = cli("convert", str(source), "-o", str(target), "--to", "sharegpt")
    assert result.code == 0 and len(target.read_text().splitlines()) == 3
    (tmp_path / "plain").write_text("a file, not a folder")
    blocked = tmp_path / "plain" / "out.jsonl"
    result = cli("convert", str(source), "-o", str(blocked), "--to", "sharegpt")
    assert result.code == 2
    assert result.err == f"instructkit convert: error: cannot write {blocked}: not a directory\n"


def test_converting_a_file_onto_itself_gives_the_converted_rows(cli, tmp_path):
    source = chat_file(tmp_path / "d.jsonl", 50)
    elsewhere = tmp_path / "copy.jsonl"
    assert cli("convert", str(source), "-o", str(elsewhere), "--to", "sharegpt").code == 0
    assert cli("convert", str(source), "-o", str(source), "--to", "sharegpt").code == 0
    assert source.read_bytes() == elsewhere.read_bytes()
    assert _left_in(tmp_path) == ["copy.jsonl", "d.jsonl"]


def test_an_exception_inside_the_block_removes_the_temporary_file(tmp_path):
    target = tmp_path / "out.jsonl"
    with pytest.raises(RuntimeError, match="boom"):
        with atomic_path(target) as tmp:
            tmp.write_text("half")
            raise RuntimeError("boom")
    assert _left_in(tmp_path) == []


def test_a_target_that_is_a_folder_is_one_clear_error(tmp_path):
    (tmp_path / "out.jsonl").mkdir()
    with pytest.raises(InputError, match=r"cannot write .*out\.jsonl: it is a directory$"):
        write_rows(tmp_path / "out.jsonl", [{"a": 1}])
    assert _left_in(tmp_path) == ["out.jsonl"]


@pytest.mark.parametrize("name", ["o.jsonl", "o.json", "o.csv", "o.parquet", "o.jsonl.gz"])
def test_every_output_kind_keeps_the_permissions_the_umask_gives(tmp_path, name):
    write_rows(tmp_path / name, [{"a": 1}])
    umask = os.umask(0)
    os.umask(umask)
    assert (tmp_path / name).stat().st_mode & 0o777 == 0o666 & ~umask
    assert _left_in(tmp_path) == [name]

"""docs/tutorial.md runs as written: every `$ instructkit ...` line of its console blocks, in order,
from a copy of the repository's examples, with the exit code the page gives (`# exit N`, else 0),
and the output the page shows where it does not depend on a training run. Training is cut to two
steps (the page's own runs take minutes). docs/tutorial.ko.md holds the same commands."""

from __future__ import annotations

import re
import shlex
import shutil

import pytest

from tests.conftest import ROOT

PAGE = ROOT / "docs" / "tutorial.md"
KOREAN = ROOT / "docs" / "tutorial.ko.md"
TRAINED = ("out/everyday", "out/code", "out/mine")  # outputs that depend on a training run


def commands(page):
    """(command line, lines shown after it) of each `$ ` line in the page's console blocks."""
    found = []
    for block in re.findall(r"```console\n(.*?)```", page.read_text(encoding="utf-8"), re.S):
        for line in block.splitlines():
            if line.startswith("$ "):
                found.append((line[2:], []))
            elif found:
                found[-1][1].append(line)
    return found


def test_the_korean_page_has_the_same_commands():
    assert [c for c, _ in commands(KOREAN)] == [c for c, _ in commands(PAGE)]
    assert len(commands(PAGE)) >= 15


def _flat(text):
    return " ".join(text.split())


def test_every_command_of_the_tutorial_runs_as_written(cli, tmp_path, monkeypatch):
    shutil.copytree(ROOT / "examples", tmp_path / "examples")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("COLUMNS", "100")
    for line, shown in commands(PAGE):
        words = shlex.split(line, comments=True)
        expected = int(m.group(1)) if (m := re.search(r"# exit (\d)", line)) else 0
        assert words[0] == "instructkit", line
        args = words[1:]
        if args[0] == "train":  # two steps, short samples: the page's runs take minutes
            args += ["--set", "sft.max_steps=2", "--set", "max_new_tokens=8"]
        result = cli(*args)
        assert result.code == expected, (line, result.err[-2000:])
        if args[0] == "train" or any(t in line for t in TRAINED):
            continue
        got = _flat(result.out + result.err)
        for text in shown:
            if text.strip() and "…" not in text:
                assert _flat(text) in got, (line, text)


@pytest.mark.parametrize("page", [PAGE, KOREAN])
def test_the_pages_name_files_that_exist(page):
    for name in re.findall(r"examples/[\w.]+\.(?:jsonl|yaml)", page.read_text(encoding="utf-8")):
        assert (ROOT / name).is_file(), name

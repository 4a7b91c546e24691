"""Generated docs (error catalogue, CLI reference) must match the code; every command has a page."""

import argparse
import importlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "docs"))

import generate  # noqa: E402

import instructkit  # noqa: E402


def test_generated_docs_match_the_code(monkeypatch):
    monkeypatch.setenv("COLUMNS", "100")
    for path, text in generate.generated().items():
        assert path.read_text(encoding="utf-8") == text, f"{path.name} is stale: run `make docs`"


def test_every_subcommand_has_a_docs_page_beyond_the_reference():
    parser = instructkit.build_parser()
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    pages = " ".join(p.read_text(encoding="utf-8") for p in (ROOT / "docs").glob("*.md") if p.name != "cli.md")
    missing = [name for name in commands.choices if f"## `instructkit {name}" not in pages]
    assert missing == []


def test_the_stats_page_shows_the_real_report_and_json(cli, gsm8k, monkeypatch):
    """docs/stats.md's example is the output of the command it names (run from the repository)."""
    import json
    import re

    page = (ROOT / "docs" / "stats.md").read_text(encoding="utf-8")
    report = re.search(r"A real report \(`\.\./shared/data/gsm8k/test\.jsonl`.*?```text\n(.*?)```", page, re.S).group(1)
    beginning = re.search(r"The beginning of the JSON for the run above:\n\n```json\n(.*?)```", page, re.S).group(1)
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "93")
    result = cli("stats", "../shared/data/gsm8k/test.jsonl", "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct",
                 "--template", "smollm2", "--max-length", "256", "--json", "-")
    assert result.err == report  # the terminal report goes to stderr when the JSON takes stdout
    assert json.dumps(result.json(), ensure_ascii=False, indent=1).startswith(beginning.rstrip("\n"))


def test_the_command_table_names_the_module_that_registers_each_subcommand():
    registered = {}
    for module in instructkit.COMMAND_MODULES:
        commands = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(module).register(commands)
        registered.update(dict.fromkeys(commands.choices, module))
    assert instructkit.COMMANDS == registered


def test_a_command_builds_only_its_own_part_of_the_parser():
    parser = instructkit.build_parser("validate")
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    assert sorted(commands.choices) == ["convert", "publish", "stats", "validate"]

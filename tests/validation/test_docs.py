"""Generated docs (error catalogue, CLI reference) must match the code; every command has a page."""

import argparse
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

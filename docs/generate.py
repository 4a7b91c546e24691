"""Regenerate the generated docs: `python docs/generate.py` (run by `make docs`; a test checks them)."""

from __future__ import annotations

import argparse
from pathlib import Path

HERE = Path(__file__).resolve().parent


def cli_reference() -> str:
    import instructkit

    parser = instructkit.build_parser()
    parts = ["# CLI reference", "", "Generated from `--help` by `python docs/generate.py`; do not edit by hand.", "",
             "```text", parser.format_help().replace("generate.py", "instructkit").rstrip(), "```"]
    commands = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    for name, sub in commands.choices.items():
        parts += ["", f"## instructkit {name}", "", "```text", sub.format_help().rstrip(), "```"]
    return "\n".join(parts) + "\n"


def generated() -> dict[Path, str]:
    from validation.codes import markdown

    return {HERE / "errors.md": markdown(), HERE / "cli.md": cli_reference()}


if __name__ == "__main__":
    for path, text in generated().items():
        path.write_text(text, encoding="utf-8")

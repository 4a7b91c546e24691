"""Every command's output on the examples and the broken-row corpus, recorded: a redesign must
leave the CLI output and JSON byte-identical (regenerate on purpose with INSTRUCTKIT_REGOLD=1)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "data" / "golden_cli.json"
EXAMPLES = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "examples").glob("*.jsonl"))
BROKEN = sorted(p.relative_to(ROOT).as_posix() for p in (ROOT / "tests" / "data" / "broken").glob("*.jsonl"))


def commands(out: str) -> list[list[str]]:
    """The command lines recorded; `out` is a folder for the files they write (relative to ROOT)."""
    lines = []
    for path in EXAMPLES + BROKEN:
        lines += [["validate", path, "--json"], ["validate", path], ["validate", path, "--template", "chatml", "--json"],
                  ["stats", path, "--json"]]
    for path in EXAMPLES:
        lines += [["convert", path, "-o", f"{out}/converted.jsonl", "--to", "sharegpt", "--json"],
                  ["render", path, "--template", "smollm2"], ["render", path, "--template", "llama3", "--row", "2"],
                  ["validate", path, "--write-clean", f"{out}/clean.jsonl", "--json"]]
    return lines + [["templates", "--json"], ["templates"]]


def record(cli, tmp: str) -> dict[str, dict[str, object]]:
    recorded = {}
    for line in commands(tmp):
        written = [a for a in line if a.startswith(tmp)]
        for path in written:  # what a command leaves is its own, not an earlier command's file at the same path
            (ROOT / path).unlink(missing_ok=True)
        result = cli(*line)
        entry: dict[str, object] = {"code": result.code, "out": result.out, "err": result.err}
        if written and (ROOT / written[0]).exists():
            entry["file"] = (ROOT / written[0]).read_text(encoding="utf-8")
        recorded[" ".join(line).replace(tmp, "OUT")] = entry
    return recorded


def test_every_command_prints_what_was_recorded(cli, monkeypatch, tmp_path):
    from templating import registry
    from templating.builtins import BUILTINS

    # the built-in templates only: other tests in this process may have registered their own
    monkeypatch.setattr(registry, "_TEMPLATES", {spec.name: spec for spec in BUILTINS})
    monkeypatch.setattr(registry, "_ALIASES", {alias: spec.name for spec in BUILTINS for alias in spec.aliases})
    monkeypatch.setattr(registry, "_COMPILED", {})
    monkeypatch.chdir(ROOT)
    monkeypatch.setenv("COLUMNS", "100")
    out = ROOT / "out" / f"golden-{os.getpid()}"  # a relative path, so that it reads the same on every machine
    out.mkdir(parents=True, exist_ok=True)
    try:
        found = record(cli, out.relative_to(ROOT).as_posix())
    finally:
        for f in out.iterdir():
            f.unlink()
        out.rmdir()
    if os.environ.get("INSTRUCTKIT_REGOLD"):
        GOLDEN.write_text(json.dumps(found, ensure_ascii=False, indent=1, sort_keys=True) + "\n", encoding="utf-8")
        pytest.skip("golden CLI outputs written")
    recorded = json.loads(GOLDEN.read_text(encoding="utf-8"))
    assert sorted(found) == sorted(recorded)
    for line, entry in recorded.items():
        assert found[line] == entry, line

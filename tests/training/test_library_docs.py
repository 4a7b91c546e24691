"""docs/library.md's script runs as written (a tiny model for SmolLM2, its output folder in tmp)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytest.importorskip("trl")


def test_the_validate_render_train_script_runs(tiny_model, tmp_path, monkeypatch, capsys):
    page = (ROOT / "docs" / "library.md").read_text(encoding="utf-8")
    script = re.search(r"```python\n(.*?)```", page, re.S).group(1)
    assert 'MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"\n' in script and 'OUT = "out/script"\n' in script
    script = script.replace('MODEL = "HuggingFaceTB/SmolLM2-135M-Instruct"', f"MODEL = {str(tiny_model)!r}")
    script = script.replace('OUT = "out/script"', f"OUT = {str(tmp_path / 'out')!r}")
    monkeypatch.chdir(ROOT)
    exec(compile(script, "docs/library.md", "exec"), {})
    out = capsys.readouterr().out
    assert "examples/everyday_conversations.jsonl: messages, " in out and " 0 invalid" in out
    assert re.search(r"^2 steps, final loss \d", out, re.M)
    assert (tmp_path / "out" / "metrics.json").is_file()

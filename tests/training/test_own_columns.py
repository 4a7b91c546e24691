"""A training config reads the user's own columns (`dataset.columns`, as --map), its eval file
with the same mapping, and a template file of its own."""

from __future__ import annotations

import json
import shutil

from tests.conftest import ROOT
from tests.training.conftest import write_config

ROWS = [{"input": f"What is {i} plus {i}?", "output": f"{i} plus {i} is {2 * i}.", "id": i} for i in range(8)]


def test_train_reads_own_columns_in_the_training_and_the_eval_file(cli, tiny_model, tmp_path):
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[:6]))
    (tmp_path / "eval.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS[6:]))
    config = write_config(tmp_path, model=str(tiny_model), template="chatml", max_length=64,
                          output_dir=str(tmp_path / "out"), eval={"path": "eval.jsonl"},
                          dataset={"path": "train.jsonl", "columns": {"input": "prompt", "output": "completion"}},
                          sft={"max_steps": 1})
    result = cli("train", config, "--dry-run")
    assert result.code == 0, result.err
    flat = " ".join(result.out.split())
    assert "validate: 6 rows, 6 valid, 0 invalid" in flat and "prepare: 6 train / 2 eval conversations" in flat
    assert "<|im_start|>user What is 0 plus 0?<|im_end|>" in flat


def test_a_config_column_clash_stops_the_run_at_the_source_field(cli, tiny_model, tmp_path):
    rows = ROWS[:3] + [{**ROWS[3], "completion": "two answers"}]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    config = write_config(tmp_path, model=str(tiny_model), template="chatml", output_dir=str(tmp_path / "out"),
                          dataset={"path": "train.jsonl", "columns": {"input": "prompt", "output": "completion"}})
    result = cli("train", config)
    assert result.code == 1
    assert "column-clash (error, 1)" in result.out and "   4 │ output │ --map output=completion: the row already" \
        in result.out


def test_train_takes_a_template_file_relative_to_its_config(cli, tiny_model, tmp_path):
    from templating import get_template

    chats = ROOT / "examples" / "everyday_conversations.jsonl"
    (tmp_path / "mine.jinja").write_text(get_template("chatml").jinja)
    shutil.copy(chats, tmp_path / "chats.jsonl")
    config = write_config(tmp_path, model=str(tiny_model), template="mine.jinja", dataset={"path": "chats.jsonl"},
                          max_length=128, output_dir=str(tmp_path / "out"))
    result = cli("train", config, "--dry-run")
    assert result.code == 0, result.err
    assert "<|im_start|>assistant" in result.out and "tokens and masks agree with TRL's" in " ".join(result.out.split())


def test_train_with_a_template_file_without_marks_trains_the_derived_spans(cli, tiny_model, tmp_path):
    from templating import get_template

    (tmp_path / "official.jinja").write_text(get_template("chatml").official_jinja)  # as models ship it
    shutil.copy(ROOT / "examples" / "everyday_conversations.jsonl", tmp_path / "chats.jsonl")
    config = write_config(tmp_path, model=str(tiny_model), template="official.jinja", dataset={"path": "chats.jsonl"},
                          max_length=128, output_dir=str(tmp_path / "out"),
                          sft={"max_steps": 1, "save_strategy": "no", "disable_tqdm": True})
    result = cli("train", config)
    assert result.code == 0, result.err
    registry = cli("audit", str(tmp_path / "chats.jsonl"), "--model", str(tiny_model), "--template", "chatml",
                   "--json").json()["summary"]
    trained = json.loads((tmp_path / "out" / "audit.json").read_text())["summary"]
    assert trained["supervised_tokens"] == registry["supervised_tokens"] > 0

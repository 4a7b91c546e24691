"""Bad configs give one clear line each; --set overrides; the sft block is TRL's SFTConfig."""

from __future__ import annotations

import pytest

from training import ConfigError, load_config
from tests.training.conftest import write_config


@pytest.mark.parametrize(("values", "message"), [
    ({"dataset": {"path": "d.jsonl"}, "sft": {"evaluation_strategy": "steps"}},
     "sft: unknown SFTConfig field 'evaluation_strategy'; did you mean 'eval_strategy'?"),
    ({"dataset": {"path": "d.jsonl"}, "modle": "x"}, "unknown key 'modle'; did you mean 'model'?"),
    ({"dataset": {"path": "d.jsonl", "splt": "train"}}, "unknown key 'dataset.splt'; did you mean 'split'?"),
    ({"dataset": {"path": "d.jsonl"}, "on_invalid": "ignore"}, "on_invalid: Input should be 'stop' or 'drop'"),
    ({"dataset": {"path": "d.jsonl"}, "sft": {"max_length": 64}},
     "sft: set 'max_length' at the top level (max_length), not under sft"),
    ({}, "dataset: Field required"),
    ({"dataset": {"path": "d.jsonl"}, "train_on": "first"}, "train_on: Input should be 'all' or 'last'"),
])
def test_bad_config_is_one_clear_line(tmp_path, values, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, **values))
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_set_overrides_nested_keys_with_yaml_values(tmp_path):
    config = load_config(write_config(tmp_path, dataset={"path": "d.jsonl"}),
                         overrides=["sft.learning_rate=2e-4", "max_length=128", "lora.r=4"])
    assert (config.sft, config.max_length, config.lora.r) == ({"learning_rate": 2e-4}, 128, 4)


def test_cli_bad_config_exits_2_with_one_line(cli, tmp_path):
    result = cli("train", write_config(tmp_path, dataset={"path": "d.jsonl"}, sft={"evaluation_strategy": "no"}))
    assert result.code == 2
    assert result.err.count("\n") == 1 and "did you mean 'eval_strategy'?" in result.err


def test_scientific_notation_without_a_dot_is_a_number(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("dataset: {path: d.jsonl}\nsft:\n  learning_rate: 2e-4\n  weight_decay: 1.0e-2\n")
    assert load_config(path).sft == {"learning_rate": 2e-4, "weight_decay": 1e-2}


def test_train_on_defaults_to_every_turn_and_takes_last(tmp_path):
    assert load_config(write_config(tmp_path, dataset={"path": "d.jsonl"})).train_on == "all"
    assert load_config(write_config(tmp_path, dataset={"path": "d.jsonl"}), overrides=["train_on=last"]).train_on \
        == "last"


@pytest.mark.parametrize(("sft", "message"), [
    ({"max_steps": "ten"}, "sft: max_steps: 'ten' does not fit its type, int (Input should be a valid integer, "
                           "unable to parse string as an integer)"),
    ({"learning_rate": [1]}, "sft: learning_rate: [1] does not fit its type, float (Input should be a valid number)"),
    ({"bf16": "maybe"}, "sft: bf16: 'maybe' does not fit its type, bool"),
])
def test_a_trainer_value_of_the_wrong_type_is_refused_before_any_model_loads(cli, tmp_path, sft, message):
    with pytest.raises(ConfigError) as caught:
        load_config(write_config(tmp_path, dataset={"path": "d.jsonl"}, sft=sft))
    assert message in str(caught.value) and "\n" not in str(caught.value)
    result = cli("train", write_config(tmp_path, dataset={"path": "d.jsonl"}, sft=sft), "--dry-run")
    assert result.code == 2 and message in result.err


def test_a_number_written_as_text_is_read_as_the_number(tmp_path):
    config = load_config(write_config(tmp_path, dataset={"path": "d.jsonl"},
                                      sft={"max_steps": "10", "learning_rate": "1e-4", "lr_scheduler_type": "cosine"}))
    assert config.sft == {"max_steps": 10, "learning_rate": 1e-4, "lr_scheduler_type": "cosine"}


def test_paths_are_read_from_the_config_files_folder(tmp_path, monkeypatch):
    folder = tmp_path / "project"
    (folder / "data").mkdir(parents=True)
    (folder / "data" / "chat.jsonl").write_text("{}\n")
    (folder / "tools.json").write_text("[]")
    config_path = write_config(folder, dataset={"path": "data/chat.jsonl", "columns": {"response": "completion"}},
                               eval={"path": "data/chat.jsonl"}, sample_tools="tools.json", output_dir="out")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    config = load_config(config_path)
    assert config.dataset.path == str(folder / "data" / "chat.jsonl") == config.eval.path
    assert config.sample_tools == str(folder / "tools.json")
    assert config.dataset.columns == {"response": "completion"}
    assert config.output_dir == "out"  # where the command runs, as every trainer writes it
    hub = load_config(write_config(folder, dataset={"path": "openai/gsm8k", "subset": "main"}))
    assert (hub.dataset.path, hub.dataset.subset) == ("openai/gsm8k", "main")  # a hub id stays one
    overridden = load_config(config_path, overrides=["dataset.path=mine.jsonl"])
    assert overridden.dataset.path == "mine.jsonl"  # the command line's paths are the current directory's


def test_a_missing_dataset_is_named_where_it_was_looked_for(cli, tmp_path, monkeypatch):
    config_path = write_config(tmp_path, dataset={"path": "chat.jsonl"})
    monkeypatch.chdir("/")
    result = cli("train", config_path, "--dry-run")
    assert (result.code, result.err) == (2, f"instructkit train: error: {tmp_path / 'chat.jsonl'}: no such file or "
                                            "directory\n")


def test_the_shipped_examples_train_from_their_own_folder(cli, monkeypatch):
    from tests.conftest import ROOT

    monkeypatch.chdir(ROOT / "examples")
    for name in ("everyday_conversations", "code_text", "math_qa", "preferences", "reasoning", "tool_calls"):
        config = load_config(f"{name}.yaml")
        assert config.dataset.path == str(ROOT / "examples" / f"{name}.jsonl")

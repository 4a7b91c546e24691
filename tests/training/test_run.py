"""The pipeline on a tiny random Llama with the real SmolLM2 tokenizer (CPU, seconds)."""

from __future__ import annotations

import json

import pytest

from templating import get_template
from templating.registry import render_tokens
from tests.training.conftest import write_config
from training import load_config, run

pytest.importorskip("trl")


def test_invalid_dataset_stops_before_any_model_is_loaded(cli, tmp_path, monkeypatch):
    import training.models

    def refuse(*_: object) -> None:
        raise AssertionError("a model was loaded")

    monkeypatch.setattr(training.models, "load_model", refuse)
    data = tmp_path / "bad.jsonl"
    data.write_text('{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}\n')
    result = cli("train", write_config(tmp_path, model="nowhere", dataset={"path": str(data)},
                                       output_dir=str(tmp_path / "out")))
    assert result.code == 1
    assert "empty-content" in result.out and "training stopped" in result.out
    report = json.loads((tmp_path / "out" / "validation.json").read_text())
    assert [(i["row"], i["code"]) for i in report["issues"]] == [(1, "empty-content")]


def test_tiny_model_overfits_and_labels_are_the_assistant_mask(tiny_model, tiny_dataset, tmp_path, smollm2_tokenizer):
    config = load_config(model=str(tiny_model), template="smollm2", dataset={"path": str(tiny_dataset)},
                         output_dir=str(tmp_path / "out"), max_length=128,
                         sft={"max_steps": 40, "learning_rate": 3e-3, "per_device_train_batch_size": 8,
                              "logging_steps": 1, "save_strategy": "no", "disable_tqdm": True})
    summary = run(config)
    assert summary.final_loss < summary.first_loss / 2
    history = json.loads((tmp_path / "out" / "metrics.json").read_text())["log_history"]
    assert [h["loss"] for h in history if "loss" in h][0] == summary.first_loss
    # what was saved reloads and renders with the template trained on
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tmp_path / "out")
    AutoModelForCausalLM.from_pretrained(tmp_path / "out")
    assert tokenizer.chat_template == get_template("smollm2").jinja
    messages = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]
    assert tokenizer.apply_chat_template(messages, tokenize=False) == get_template("smollm2").render(messages).text
    for name in ("validation.json", "stats.json", "config.yaml", "metrics.json"):
        assert (tmp_path / "out" / name).is_file()


def test_prepared_labels_equal_the_registry_mask(tiny_model, tiny_dataset, smollm2_tokenizer):
    from templating import get_template
    from templating.supervision.conversations import Auditor
    from training.prepare import check_against_trl, tokenized_dataset
    from validation import read

    conversations = list(read(tiny_dataset))
    template = get_template("smollm2")
    audits = Auditor(smollm2_tokenizer, template).audit(conversations)
    prepared = tokenized_dataset(audits, assistant_only_loss=True)
    for conversation, row in zip(conversations, prepared):
        expected = render_tokens(conversation.messages, smollm2_tokenizer, template)
        assert (row["input_ids"], row["assistant_masks"]) == (expected.input_ids, expected.assistant_mask)
    assert check_against_trl(audits, smollm2_tokenizer, template, prepared) == 8


def test_trls_tokenization_of_a_template_that_prints_the_date_is_checked_on_the_day_ours_prints(tiny_dataset,
                                                                                              smollm2_tokenizer):
    """gpt-oss prints today's date (`strftime_now`); ours is pinned (2025-08-05), and the comparison
    with TRL's tokenization renders with that day, not the day training runs."""
    from templating import get_template
    from templating.supervision.conversations import Auditor
    from training.prepare import check_against_trl, tokenized_dataset
    from validation import read

    template = get_template("gpt-oss")
    assert "Current date: 2025-08-05" in template.render([{"role": "user", "content": "Hi"}]).text
    audits = Auditor(smollm2_tokenizer, template).audit(list(read(tiny_dataset)))
    prepared = tokenized_dataset(audits, assistant_only_loss=True)
    assert check_against_trl(audits, smollm2_tokenizer, template, prepared) == 8


def test_setup_chat_format_on_a_template_less_tokenizer(tiny_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training import setup_chat_format

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    tokenizer.chat_template = None
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    before = len(tokenizer)
    model, tokenizer = setup_chat_format(model, tokenizer, "zephyr")
    assert "<|assistant|>" in tokenizer.get_vocab() and len(tokenizer) > before
    assert model.get_input_embeddings().weight.shape[0] == len(tokenizer)
    assert tokenizer.eos_token == "</s>" and tokenizer.chat_template == get_template("zephyr").jinja


def test_train_opens_the_dataset_once_for_gate_audit_and_stats(tiny_model, tiny_dataset, tmp_path, opens,
                                                               dry_run_reports):
    """`opens`: tests/conftest.py."""
    count = opens(tiny_dataset)
    config = load_config(model=str(tiny_model), template="smollm2", dataset={"path": str(tiny_dataset)},
                         output_dir=str(tmp_path / "out"), max_length=128)
    assert run(config, dry_run=True) is None
    assert count() == 1
    stats = json.loads((dry_run_reports / "stats.json").read_text())
    assert (stats["rows"], stats["supervision"]["rows"]) == (8, 8)


def test_a_script_hands_an_open_dataset_to_training(tiny_model, tiny_dataset, tmp_path, dry_run_reports):
    import yaml

    from validation import open_dataset, validate

    with open_dataset(tiny_dataset) as data:
        assert validate(data, template=get_template("smollm2")).ok
        config = load_config(model=str(tiny_model), template="smollm2", dataset=data,
                             output_dir=str(tmp_path / "out"), max_length=128)
        assert run(config, dry_run=True) is None
        assert validate(data).rows == 8  # training left it open
    written = yaml.safe_load((dry_run_reports / "config.yaml").read_text())
    assert written["dataset"] == {"path": str(tiny_dataset), "split": "train", "format": "messages",
                                  "column": "messages", "columns": None}

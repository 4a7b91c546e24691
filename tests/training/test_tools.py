"""Training on tool-calling rows (examples/tool_calls.jsonl) with a tool-capable template: the row's
tools reach the tokens, calls are trained and results are not, and the prepared rows agree with
TRL's own tokenization of the same rows with their tools."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import load_config, run
from templating import get_template

pytest.importorskip("trl")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tool_calls.jsonl"


def test_the_tool_example_trains_with_calls_in_the_mask_and_results_out(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    from templating.supervision.dataset import audit_rows

    out = tmp_path / "out"
    summary = run(load_config(model=str(tiny_model), dataset={"path": str(EXAMPLE)}, template="qwen2.5",
                              max_length=1024, output_dir=str(out),
                              sft={"max_steps": 2, "per_device_train_batch_size": 2, "save_strategy": "no", "logging_steps": 1,
                                   "disable_tqdm": True}))
    assert summary.train_rows == 41 and summary.final_loss is not None  # check_against_trl passed with tools
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    _, audited = audit_rows(EXAMPLE, tokenizer=tokenizer, template=get_template("qwen2.5"), max_length=1024)
    _, first = audited[0]
    text = tokenizer.decode(first.ids)
    trained = tokenizer.decode([t for t, m in zip(first.ids, first.mask) if m])
    assert "<tools>" in text and '"name": "convert_currency"' in text  # the tool list is rendered
    assert '"name": "get_weather", "arguments": {"city": "Seoul", "unit": "celsius"}' in trained
    assert "3°C, clear" in text and "3°C, clear" not in trained  # the result is context only
    assert "<tools>" not in trained
    config = json.loads(json.dumps(load_config(out / "config.yaml").model_dump(mode="json")))
    assert config["template"] == "qwen2.5"


def test_generate_prints_the_call_a_model_makes(cli, tiny_model, tmp_path, monkeypatch):
    from training import samples

    out = tmp_path / "out"
    run(load_config(model=str(tiny_model), dataset={"path": str(EXAMPLE)}, template="qwen2.5", max_length=1024,
                    output_dir=str(out), sft={"max_steps": 1, "save_strategy": "no", "disable_tqdm": True}))
    seen = {}

    def reply(model, tokenizer, template, prompts, *, max_new_tokens, tools=None):
        seen["template"], seen["tools"] = template.name, tools
        return [samples.Reply('<tool_call>\n{"name": "get_weather", "arguments": {"city": "대구"}}\n</tool_call>',
                              True)]

    monkeypatch.setattr(samples, "generate", reply)
    tools = EXAMPLE.with_name("tools.json")
    result = cli("generate", out, "대구 날씨 어때?", "--tools", tools)
    assert result.code == 0, result.err
    assert result.out.splitlines()[-1] == 'call: get_weather({"city": "대구"})'
    assert seen == {"template": "qwen2.5", "tools": json.loads(tools.read_text(encoding="utf-8"))}


def test_a_response_schema_gates_training_like_any_other_check(tiny_model, tmp_path):
    from tests.validation.test_broken_rows import BROKEN
    from training.errors import InvalidDataset
    common = {"model": str(tiny_model), "dataset": {"path": str(BROKEN / "response-schema-mismatch.jsonl")},
              "template": "smollm2", "max_length": 128, "response_schema": str(BROKEN / "product.schema.json"),
              "sft": {"max_steps": 1, "save_strategy": "no", "disable_tqdm": True}}
    with pytest.raises(InvalidDataset) as stopped:
        run(load_config(output_dir=str(tmp_path / "stop"), **common))
    assert [(i.row, i.path, i.code) for i in stopped.value.report.issues] == [
        (2, "messages[1].content#/price", "response-schema-mismatch")]
    summary = run(load_config(output_dir=str(tmp_path / "drop"), on_invalid="drop", **common))
    assert (summary.train_rows, summary.dropped_rows) == (2, 1)  # the audit leaves out the same row


def test_a_missing_sample_tools_file_stops_the_run_before_any_model_is_loaded(tmp_path, monkeypatch):
    from training import models
    from training.config import ConfigError

    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    with pytest.raises(ConfigError, match="sample_tools: .*missing.json: no such file"):
        run(load_config(dataset={"path": str(EXAMPLE)}, output_dir=str(tmp_path / "out"),
                        sample_tools=str(tmp_path / "missing.json")))


def test_generate_refuses_an_unreadable_tools_file_in_one_line_before_loading_the_model(cli, tmp_path, monkeypatch):
    from training import models, rundir

    monkeypatch.setattr(rundir, "require_finished", lambda folder: None)
    monkeypatch.setattr(models, "load_model", lambda *a, **k: pytest.fail("the model was loaded"))
    for tools, reason in ((tmp_path / "missing.json", "no such file"), (tmp_path, "it is a directory")):
        result = cli("generate", tmp_path, "hi", "--tools", tools)
        assert result.code == 2 and result.err.strip() == f"instructkit generate: error: --tools: {tools}: {reason}" \
            + (" or directory" if reason == "no such file" else "")

"""Training on reasoning rows (examples/reasoning.jsonl) with a reasoning template: the reasoning of
every turn is trained with its answer, wherever the row keeps it (a field or an inline block);
samples show the reasoning apart from the answer and still count stops."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import load_config, run
from training.samples import Reply, write_samples
from templating import get_template

pytest.importorskip("trl")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reasoning.jsonl"


def test_the_example_is_what_its_generator_writes():
    from tests.conftest import written_by_generator

    assert EXAMPLE.read_text(encoding="utf-8") == written_by_generator(EXAMPLE, "make_reasoning.py")


def test_the_reasoning_example_trains_the_reasoning_of_every_turn(tiny_model, tmp_path):
    from transformers import AutoTokenizer

    from templating.supervision.dataset import audit_rows

    rows = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    out = tmp_path / "out"
    summary = run(load_config(model=str(tiny_model), dataset={"path": str(EXAMPLE)}, template="qwen3",
                              max_length=256, output_dir=str(out),
                              sft={"max_steps": 2, "per_device_train_batch_size": 2, "save_strategy": "no",
                                   "logging_steps": 1, "disable_tqdm": True}))
    assert summary.train_rows == len(rows) == 120 and summary.final_loss is not None  # TRL's mask agreed
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    _, audited = audit_rows(EXAMPLE, tokenizer=tokenizer, template=get_template("qwen3"), max_length=256)
    two_turns = next(k for k, r in enumerate(rows) if len(r["messages"]) == 4)
    inline = next(k for k, r in enumerate(rows) if "<think>" in r["messages"][1]["content"])
    for k in (two_turns, inline):
        row = audited[k][1]
        trained = tokenizer.decode([t for t, m in zip(row.ids, row.mask) if m])
        for reply in rows[k]["messages"][1::2]:
            reasoning = reply.get("reasoning_content") or reply["content"].split("</think>")[0].split("<think>\n")[1]
            answer = reply["content"].split("</think>\n\n")[-1]
            assert f"<think>\n{reasoning.strip()}\n</think>\n\n{answer}<|im_end|>" in trained
        assert rows[k]["messages"][0]["content"] not in trained  # the question is context


def test_samples_show_reasoning_apart_from_the_answer_and_count_stops(tmp_path):
    before = [Reply("I think it is 40", False), Reply("Six sevens", False, opened=True)]
    after = [Reply("<think>\nSix sevens.\n</think>\n\n42", True), Reply("<think>\nSix sevens are", False)]
    text = write_samples(tmp_path / "samples.md", ["6*7?", "7*6?"], before, after,
                         {"sample prompts": {"n": 2, "before": 0.0, "after": 0.5}})
    assert "| sample prompts | 2 | 0% | 50% |" in text
    assert "**after**\n\n> *reasoning*\n>\n> Six sevens.\n>\n> *answer*\n>\n> 42\n" in text
    assert ("> *reasoning*\n>\n> Six sevens are\n>\n> *answer*\n>\n> (none: the think block never closes)\n>\n"
            "> *(did not stop)*") in text
    assert "**before**\n\n> I think it is 40\n>\n> *(did not stop)*" in text
    assert "> *reasoning*\n>\n> Six sevens\n>\n> *answer*\n>\n> (none" in text  # the prompt opened the block


def test_generate_prints_reasoning_and_answer_apart(cli, tiny_model, tmp_path, monkeypatch):
    from training import samples

    out = tmp_path / "out"
    run(load_config(model=str(tiny_model), dataset={"path": str(EXAMPLE)}, template="qwen3", max_length=256,
                    output_dir=str(out), sft={"max_steps": 1, "save_strategy": "no", "disable_tqdm": True}))
    monkeypatch.setattr(samples, "generate", lambda *a, **k: [Reply("<think>\n6 × 7 = 42.\n</think>\n\n42.", True)])
    result = cli("generate", out, "6*7?")
    assert result.code == 0, result.err
    assert result.out.endswith("\nreasoning:\n6 × 7 = 42.\n\nanswer:\n42.\n")  # (after what training printed)

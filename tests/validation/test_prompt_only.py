"""Prompt-only rows (GRPO-style): detected, checked to end open, reward columns kept and typed, converted losslessly."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation import validate
from validation.convert import convert
from validation.errors import InputError

TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cc", "Cs")), min_size=1, max_size=30).filter(str.strip)


def write(path, rows) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")


def test_a_prompt_of_messages_is_detected_and_its_other_columns_are_kept(tmp_path):
    rows = [{"prompt": [{"role": "system", "content": "Answer with a number."}, {"role": "user", "content": "2+2?"}],
             "answer": "4", "tests": [{"input": 1}]},
            {"prompt": [{"role": "user", "content": "Weather in Seoul?"}, {"role": "assistant", "content": "",
             "tool_calls": [{"type": "function", "function": {"name": "weather", "arguments": {"city": "Seoul"}}}]},
                        {"role": "tool", "content": "Sunny, 21 °C"}], "answer": "sunny",
             "tools": [{"type": "function", "function": {"name": "weather", "parameters": {
                 "type": "object", "properties": {"city": {"type": "string"}}}}}]}]
    write(tmp_path / "p.jsonl", rows)
    report = validate(tmp_path / "p.jsonl", write_clean=tmp_path / "clean.jsonl", reward_columns={"answer": "string"})
    assert (report.format, report.valid, report.issues) == ("prompt-only", 2, [])
    assert (tmp_path / "clean.jsonl").read_bytes() == (tmp_path / "p.jsonl").read_bytes()


def test_a_text_prompt_is_prompt_only_when_named_and_never_guessed(tmp_path):
    write(tmp_path / "p.jsonl", [{"prompt": "What is 2+2?", "answer": "4"}])
    assert validate(tmp_path / "p.jsonl", format="prompt-only").issues == []
    with pytest.raises(InputError, match="cannot tell the format"):  # a reply under a name of its own, maybe
        validate(tmp_path / "p.jsonl")


def test_reward_columns_missing_or_of_another_type_are_errors_on_their_row(tmp_path):
    def prompt(numbers: str) -> list[dict]:
        return [{"role": "user", "content": f"Sort {numbers}."}]

    write(tmp_path / "p.jsonl", [{"prompt": prompt("[3, 1, 2]"), "answer": "[1, 2, 3]", "level": 2},
                                 {"prompt": prompt("[2, 1]"), "answer": ["1", "2"], "level": 2.0},
                                 {"prompt": prompt("[5, 4]"), "level": True}])
    report = validate(tmp_path / "p.jsonl", reward_columns={"answer": "string", "level": "integer"})
    assert [(i.row, i.path, i.code, i.message) for i in report.issues] == [
        (2, "answer", "wrong-type", "answer must be a string (a reward column), got array"),
        (3, "answer", "missing-field", "field 'answer' is missing (a reward column)"),
        (3, "level", "wrong-type", "level must be an integer (a reward column), got boolean")]


def test_the_cli_parses_reward_columns_and_refuses_an_unknown_type(cli, tmp_path):
    write(tmp_path / "p.jsonl", [{"prompt": [{"role": "user", "content": "hi"}], "answer": "hello"}])
    assert cli("validate", tmp_path / "p.jsonl", "--reward-columns", "answer:string").code == 0
    result = cli("validate", tmp_path / "p.jsonl", "--reward-columns", "answer:text")
    assert result.code == 2 and "'answer:text' is not NAME or NAME:TYPE" in result.err


def test_gsm8k_as_prompts_keeps_each_answer_and_converts_back_to_the_same_rows(gsm8k, tmp_path):
    source = tmp_path / "qa.jsonl"
    source.write_bytes(b"".join(gsm8k.read_bytes().splitlines(keepends=True)[:50]))
    report = convert(source, tmp_path / "prompts.jsonl", to="prompt-only")
    assert report.valid == 50
    rows = [json.loads(line) for line in (tmp_path / "prompts.jsonl").read_text(encoding="utf-8").splitlines()]
    original = [json.loads(line) for line in source.read_text(encoding="utf-8").splitlines()]
    assert rows[0] == {"answer": original[0]["answer"],
                       "prompt": [{"role": "user", "content": original[0]["question"]}]}
    assert validate(tmp_path / "prompts.jsonl", reward_columns={"answer": "string"}).ok
    convert(tmp_path / "prompts.jsonl", tmp_path / "back.jsonl", to="qa")
    assert [json.loads(line) for line in (tmp_path / "back.jsonl").read_text(encoding="utf-8").splitlines()] \
        == original


def test_a_final_reply_with_calls_cannot_become_an_answer(tmp_path):
    write(tmp_path / "m.jsonl", [{"messages": [
        {"role": "user", "content": "Weather?"},
        {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
            "name": "weather", "arguments": {}}}]}]}])
    report = convert(tmp_path / "m.jsonl", tmp_path / "p.jsonl", to="prompt-only")
    assert [(i.code, i.message) for i in report.issues] == [
        ("cannot-convert", "prompt-only keeps a final reply as the row's answer, a text: this reply has more than "
                           "text (calls, reasoning or other fields)")]


@settings(max_examples=60, deadline=None)
@given(question=TEXT, answer=TEXT, extra=st.dictionaries(st.sampled_from(["id", "level", "source"]), TEXT, max_size=2))
def test_qa_to_prompts_and_back_is_the_same_row(tmp_path_factory, question, answer, extra):
    tmp = tmp_path_factory.mktemp("qa")
    row = {"question": question, "answer": answer, **extra}
    write(tmp / "qa.jsonl", [row])
    convert(tmp / "qa.jsonl", tmp / "p.jsonl", to="prompt-only")
    convert(tmp / "p.jsonl", tmp / "m.jsonl", to="messages")
    convert(tmp / "m.jsonl", tmp / "p2.jsonl", to="prompt-only")
    assert (tmp / "p2.jsonl").read_bytes() == (tmp / "p.jsonl").read_bytes()  # prompts -> messages -> prompts
    convert(tmp / "p2.jsonl", tmp / "back.jsonl", to="qa")
    assert json.loads((tmp / "back.jsonl").read_text(encoding="utf-8")) == row


def test_sft_refuses_prompt_only_data_with_what_to_do(tmp_path):
    from training.config import ConfigError, TrainConfig
    from training.pipeline import run

    write(tmp_path / "p.jsonl", [{"prompt": [{"role": "user", "content": "hi"}], "answer": "hello"}])
    config = TrainConfig.model_validate({"dataset": {"path": str(tmp_path / "p.jsonl")},
                                         "output_dir": str(tmp_path / "out")})
    with pytest.raises(ConfigError, match="is prompt-only .* does not run GRPO"):
        run(config)


def test_method_grpo_is_refused_with_where_it_is_trained():
    from training import load_config
    from training.config import ConfigError

    with pytest.raises(ConfigError, match="method: grpo is not run by instructkit: it checks GRPO data"):
        load_config(dataset={"path": "prompts.jsonl"}, method="grpo")


def test_a_prompt_the_template_refuses_with_the_generation_prompt_is_an_error(tmp_path):
    from dataclasses import replace

    from templating import get_template

    seen = []

    def render_prompt(messages):
        seen.append(messages)
        if len(messages) > 1:
            raise ValueError("Conversation roles must alternate user/assistant/user/assistant/...")
        return "ok"

    rules = replace(get_template("chatml").rules, render_prompt=render_prompt)
    write(tmp_path / "p.jsonl", [{"prompt": [{"role": "user", "content": "Hi"}], "answer": "a"},
                                 {"prompt": [{"role": "system", "content": "Be brief."},
                                             {"role": "user", "content": "Hi"}], "answer": "b"}])
    report = validate(tmp_path / "p.jsonl", template=rules)
    assert [(i.row, i.path, i.code, i.message) for i in report.issues] == [
        (2, "prompt", "template-refused", "chatml refuses this prompt with the generation prompt: Conversation "
                                          "roles must alternate user/assistant/user/assistant/...")]
    assert len(seen) == 2
    # the real hook renders the prompt with the generation prompt
    assert get_template("chatml").rules.render_prompt([{"role": "user", "content": "Hi"}]).endswith(
        "<|im_start|>assistant\n")

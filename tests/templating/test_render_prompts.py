"""`render --add-generation-prompt`: a conversation as the inference prompt the model reads, from
a dataset, from --messages or from stdin; training-only checks do not block looking."""

from __future__ import annotations

import io
import json
import sys

from tests.conftest import DATA

CORPUS = DATA / "broken" / "reply-in-prompt.jsonl"
HAIKU = [{"role": "user", "content": "Write a haiku about programming"}]
SMOLLM2_PROMPT = ("<|im_start|>system\nYou are a helpful AI assistant named SmolLM, trained by Hugging Face<|im_end|>\n"
                  "<|im_start|>user\nWrite a haiku about programming<|im_end|>\n<|im_start|>assistant\n")


def test_user_only_rows_render_as_prompts_and_a_final_reply_is_dropped(cli):
    result = cli("render", str(CORPUS), "--template", "chatml", "--add-generation-prompt")
    assert result.code == 0
    assert [json.loads(line) for line in result.out.splitlines()] == [
        {"text": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "assistant_spans": []},
        {"text": "<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n", "assistant_spans": []},  # reply dropped
        {"text": "<|im_start|>user\n안녕?<|im_end|>\n<|im_start|>assistant\n", "assistant_spans": []}]
    assert result.err == "rendered 3 of 3 rows with chatml\n"


def test_the_final_reply_is_refused_when_asked(cli):
    result = cli("render", str(CORPUS), "--template", "chatml", "--add-generation-prompt", "--final-turn", "refuse",
                 "--text")
    assert result.code == 1
    assert result.out == ("<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n\n"
                          "<|im_start|>user\n안녕?<|im_end|>\n<|im_start|>assistant\n")
    assert "reply-in-prompt (error, 1)" in result.err and "   2 │ messages │ the conversation ends with the " \
        "assistant's" in result.err


def test_without_a_generation_prompt_training_checks_still_apply(cli):
    result = cli("render", str(CORPUS), "--template", "chatml")
    assert result.code == 1 and result.err.startswith("rendered 1 of 3 rows with chatml\n")


def test_one_conversation_from_the_command_line_prints_its_prompt(cli):
    result = cli("render", "--messages", json.dumps(HAIKU), "--template", "smollm2", "--add-generation-prompt")
    assert (result.code, result.out, result.err) == (0, SMOLLM2_PROMPT, "")
    as_object = cli("render", "--messages", json.dumps({"messages": HAIKU}), "--template", "smollm2",
                    "--add-generation-prompt")
    assert as_object.out == SMOLLM2_PROMPT


def test_stdin_is_read_as_a_file_is(cli, monkeypatch):
    lines = json.dumps({"messages": HAIKU}) + "\n" + "{broken\n"
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(lines.encode())))
    result = cli("render", "-", "--template", "smollm2", "--add-generation-prompt", "--text")
    assert result.code == 1 and result.out == SMOLLM2_PROMPT
    assert result.err.startswith("rendered 1 of 2 rows with smollm2\n<stdin> (messages): 2 rows, 1 valid, 1 invalid")
    assert "invalid-json (error, 1)" in result.err


def test_messages_or_a_path_one_of_the_two(cli):
    both = cli("render", str(CORPUS), "--messages", "[]", "--template", "chatml")
    neither = cli("render", "--template", "chatml")
    expected = "instructkit render: error: name a dataset (PATH, or - for stdin) or give --messages: one of the two\n"
    assert (both.code, both.err) == (neither.code, neither.err) == (2, expected)
    broken = cli("render", "--messages", "[{", "--template", "chatml")
    assert broken.code == 2 and broken.err.startswith("instructkit render: error: --messages: not JSON (")


def test_the_prompt_is_what_the_tokenizer_writes_for_inference(smollm2_tokenizer):
    from templating import get_template

    rendered = get_template("smollm2").render(HAIKU, add_generation_prompt=True).text
    assert rendered == SMOLLM2_PROMPT == smollm2_tokenizer.apply_chat_template(HAIKU, tokenize=False,
                                                                               add_generation_prompt=True)

"""`generate` takes what `train` takes (run folders, model folders, .gguf, hub ids: the embedded
model offline), continues raw text with --raw, and `compare` shows two models side by side."""

from __future__ import annotations

import pytest

from templating.embedded import SMOLLM2_ID


def _inputs(monkeypatch):
    """The token ids each `model.generate` call is given (the real call still runs)."""
    from transformers import GenerationMixin

    seen = []
    real = GenerationMixin.generate

    def spy(self, input_ids, **kwargs):
        seen.append(input_ids[0].tolist())
        return real(self, input_ids, **kwargs)

    monkeypatch.setattr(GenerationMixin, "generate", spy)
    return seen


def test_generate_renders_the_prompt_with_the_models_template(cli, tiny_model, smollm2_tokenizer, monkeypatch):
    seen = _inputs(monkeypatch)
    result = cli("generate", str(tiny_model), "안녕하세요?", "--max-new-tokens", "4")
    assert result.code == 0
    messages = [{"role": "user", "content": "안녕하세요?"}]
    assert seen == [smollm2_tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True,
                                                          return_dict=False)]


def test_raw_continues_the_text_as_it_is(cli, tiny_model, smollm2_tokenizer, monkeypatch):
    seen = _inputs(monkeypatch)
    result = cli("generate", str(tiny_model), "def fibonacci(n):", "--raw", "--max-new-tokens", "4")
    assert result.code == 0 and result.out.startswith("def fibonacci(n):")
    assert seen == [smollm2_tokenizer("def fibonacci(n):")["input_ids"]]  # no chat markers


def test_the_embedded_model_answers_offline(cli):
    result = cli("generate", SMOLLM2_ID, "What is the capital of France?", "--max-new-tokens", "24")
    assert result.code == 0 and "Paris" in result.out


def test_a_model_that_cannot_be_loaded_is_one_line(cli, tmp_path):
    result = cli("generate", str(tmp_path / "nowhere"), "hi")
    assert result.code == 2 and result.err.count("\n") == 1
    assert result.err.startswith(f"instructkit generate: error: model '{tmp_path / 'nowhere'}': cannot load")
    unknown = cli("generate", SMOLLM2_ID, "hi", "--template", "nope")
    assert unknown.code == 2 and "unknown template 'nope'" in unknown.err
    picture = cli("generate", SMOLLM2_ID, "hi", "--image", "cat.png")  # (refused before anything is loaded)
    assert picture.code == 2 and f"--image: {SMOLLM2_ID} is not a vision-language model" in picture.err


def test_compare_shows_both_replies_for_each_prompt(cli, tiny_model, tmp_path):
    prompts = tmp_path / "prompts.txt"
    prompts.write_text("Write a haiku about programming\n\n김치찌개 만드는 법?\n", encoding="utf-8")
    result = cli("compare", str(tiny_model), str(tiny_model), "--prompts", str(prompts), "--max-new-tokens", "3")
    assert result.code == 0
    assert "Write a haiku about programming" in result.out and "김치찌개 만드는 법?" in result.out
    assert result.out.startswith(f"before: {tiny_model}\nafter:  {tiny_model}\n")
    assert result.out.count("┃ before") == 2
    assert result.out.rstrip().splitlines()[-1].endswith("after (of 2 replies, ending before --max-new-tokens 3)")


def test_compare_takes_the_sample_prompts_of_the_run_it_is_given(cli, tiny_model, tmp_path):
    import yaml

    run = tmp_path / "run"
    import shutil

    shutil.copytree(tiny_model, run)
    (run / "config.yaml").write_text(yaml.safe_dump({"sample_prompts": ["Hi! How are you today?"]}))
    result = cli("compare", str(tiny_model), str(run), "--max-new-tokens", "2")
    assert result.code == 0 and "Hi! How are you today?" in result.out


@pytest.mark.parametrize(("args", "message"), [
    ([], "no prompts: give them, or --prompts FILE ({after} is no training run with sample_prompts)"),
    (["hi", "--prompts", "p.txt"], "give prompts or --prompts FILE, not both"),
])
def test_compare_without_prompts_says_where_they_come_from(cli, tiny_model, args, message):
    result = cli("compare", str(tiny_model), str(tiny_model), *args)
    assert (result.code, result.err) == (2, "instructkit compare: error: " + message.format(after=tiny_model) + "\n")

"""parse(render(m)) gives m back; detect names the template of a text or a tokenizer."""

from __future__ import annotations

import copy

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from templating import TemplateError, compare_template, detect_template, get_template, list_templates, parse
from templating.builtins import BUILTINS

FORMATS = {spec.name: spec for spec in BUILTINS if spec.turns is not None and spec.turns.parsable}  # parse reads them
from tests.strategies import content, conversations

SETTINGS = settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def draw_safe(name, data, **options):
    """Conversations without the template's special tokens in content (validation rejects those)."""
    messages = data.draw(conversations(**options))
    tokens = get_template(name).spec.special_tokens
    assume(not any(token in m["content"] for m in messages for token in tokens))
    return messages


def expected_messages(name, messages):
    fmt = FORMATS[name]
    out = [dict(m) for m in messages]
    if fmt.default_system is not None and out[0]["role"] != "system":
        out.insert(0, {"role": "system", "content": fmt.default_system})
    if fmt.trims_content:
        out = [{**m, "content": m["content"].strip()} for m in out]
    if fmt.turns.think:  # the reply loses its leading newlines, the reasoning its edge newlines
        out = [_thought(m) if m["role"] == "assistant" else m for m in out]
    return out


def _thought(message):
    reasoning = message.pop("reasoning_content", "").strip("\n")
    return {**message, "content": message["content"].lstrip("\n"),
            **({"reasoning_content": reasoning} if reasoning else {})}


def with_reasoning(name, data, messages):
    """Where the template keeps reasoning, some replies carry it: in `reasoning_content` where every
    turn opens with a think block (qwen3), inline in the content where the training variant keeps
    the content as it is (deepseek-r1-distill)."""
    tokens = ("<think>", "</think>", *get_template(name).spec.special_tokens)  # (validation rejects them there too)
    thoughts = st.one_of(st.none(), content.filter(lambda t: not any(token in t for token in tokens)))
    if FORMATS[name].turns.think:
        return [{**m, "reasoning_content": thought} if m["role"] == "assistant" and (thought := data.draw(thoughts))
                is not None else m for m in messages]
    if name == "deepseek-r1-distill":
        return [{**m, "content": f"<think>\n{thought}\n</think>\n\n{m['content']}"} if m["role"] == "assistant"
                and (thought := data.draw(thoughts)) is not None else m for m in messages]
    return messages


@pytest.mark.parametrize("name", sorted(FORMATS))
@SETTINGS
@given(data=st.data(), add_generation_prompt=st.booleans())
def test_parse_of_render_gives_the_messages_back(name, data, add_generation_prompt):
    messages = draw_safe(name, data, system=None if not FORMATS[name].turns.refuse_leading_system else False)
    messages = with_reasoning(name, data, messages)
    text = get_template(name).render(messages, add_generation_prompt=add_generation_prompt).text
    parsed = [m.to_dict() for m in parse(text, name)]
    assert parsed == expected_messages(name, messages)


def test_parse_reads_deepseek_r1_distill_turns_that_have_no_footer():
    messages = [{"role": "system", "content": "Think first."}, {"role": "user", "content": "2+2?"},
                {"role": "assistant", "content": "<think>\nAdd.\n</think>\n\n4"}, {"role": "user", "content": "3+3?"}]
    text = get_template("deepseek-r1-distill").render(messages, add_generation_prompt=True).text
    assert text == ("<｜begin▁of▁sentence｜>Think first.<｜User｜>2+2?<｜Assistant｜><think>\nAdd.\n</think>\n\n4"
                    "<｜end▁of▁sentence｜><｜User｜>3+3?<｜Assistant｜><think>\n")
    assert [m.to_dict() for m in parse(text, "deepseek-r1-distill")] == messages  # the reasoning stays inline
    with pytest.raises(TemplateError, match="no turn header at offset 0"):
        parse("just some text", "deepseek-r1-distill")  # a headerless system turn needs turns after it


def test_parse_gives_a_qwen3_think_block_back_as_reasoning_content():
    text = ("<|im_start|>user\n2+2?<|im_end|>\n<|im_start|>assistant\n<think>\nAdd them.\n</think>\n\n4<|im_end|>\n"
            "<|im_start|>user\nThanks<|im_end|>\n<|im_start|>assistant\n<think>\n\n</think>\n\nAny time.<|im_end|>\n")
    assert [m.to_dict() for m in parse(text, "qwen3")] == [
        {"role": "user", "content": "2+2?"}, {"role": "assistant", "content": "4", "reasoning_content": "Add them."},
        {"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "Any time."}]
    assert detect_template(text) == "qwen3"
    with pytest.raises(TemplateError, match=r"^qwen3: the assistant turn at offset 0 does not open with a think block"):
        parse("<|im_start|>assistant\n4<|im_end|>\n", "qwen3")  # the official text drops earlier turns' blocks


@pytest.mark.parametrize("name", sorted(FORMATS))
@SETTINGS
@given(data=st.data())
def test_detect_names_the_template_of_a_rendered_text(name, data):
    """The template detected renders the conversation it reads back as the same text: the one
    rendered, or one that writes such conversations alike (qwen3-nothink's as qwen3's,
    qwen3-instruct-2507's as chatml's, the lfm2 revisions' as lfm2's, lfm2.5-vl's too)."""
    messages = draw_safe(name, data, system=False)
    text = get_template(name).render(messages).text
    detected = detect_template(text)
    assert get_template(detected).render(parse(text, detected)).text == text
    if name not in ("qwen3-instruct-2507", "lfm2-v2", "lfm2.5", "lfm2.5-v2", "lfm2.5-vl"):  # (plain texts: others')
        assert detected == (FORMATS[name].jinja_name or name)


def test_parse_reports_where_the_text_leaves_the_format():
    with pytest.raises(TemplateError, match=r"^chatml: no turn header at offset 0 \('hello'\)$"):
        parse("hello", "chatml")
    with pytest.raises(TemplateError, match="parsing is defined for"):
        parse("[INST] hi [/INST]", "llama2")


def test_detect_and_compare_on_the_real_smollm2_tokenizer(smollm2_tokenizer):
    assert detect_template(smollm2_tokenizer) == "smollm2"
    assert compare_template(smollm2_tokenizer, "smollm2") is None
    warning = compare_template(smollm2_tokenizer, "chatml")
    assert warning is not None and warning.startswith("template chatml differs from the tokenizer's own template")


def test_compare_catches_a_tokenizer_whose_template_was_swapped(smollm2_tokenizer):
    swapped = copy.copy(smollm2_tokenizer)
    swapped.chat_template = get_template("zephyr").official_jinja
    assert detect_template(swapped) == "zephyr"
    assert compare_template(swapped, "smollm2").startswith("template smollm2 differs")


@pytest.mark.parametrize("name", [spec.name for spec in BUILTINS])
def test_a_tokenizer_saved_by_train_is_detected_as_its_template(name):
    """`train` saves the training variant as the tokenizer's template; `generate` must find the
    template by it (qwen2.5's was taken for chatml, losing its system prompt and tools)."""
    from types import SimpleNamespace

    template = get_template(name)
    files = template.spec.jinja_name or name  # a variant of another template's text is found as that one
    expected = next(spec.name for spec in list_templates() if (spec.jinja_name or spec.name) == files)
    assert detect_template(SimpleNamespace(chat_template=template.jinja)) == expected
    assert detect_template(SimpleNamespace(chat_template=template.official_jinja)) == expected

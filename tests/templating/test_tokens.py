"""Token ids and assistant masks: they agree with the character spans and with transformers."""

from __future__ import annotations

import copy

from hypothesis import HealthCheck, given, settings

from templating import get_template
from templating.registry import render_tokens, render_tokens_batch
from tests.strategies import conversations

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[
    HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


@SETTINGS
@given(messages=conversations())
def test_a_token_is_masked_exactly_when_it_covers_a_span_character(smollm2_tokenizer, messages):
    rendered = get_template("smollm2").render(messages)
    tokens = render_tokens(messages, smollm2_tokenizer, "smollm2")
    encoding = smollm2_tokenizer.backend_tokenizer.encode(rendered.text, add_special_tokens=False)
    assert encoding.ids == tokens.input_ids
    span_chars = {c for a, b in rendered.assistant_spans for c in range(a, b)}
    # A token is trained exactly when it covers a character of a span (tokens can straddle a
    # boundary, e.g. a header newline merged with leading whitespace of the content).
    expected = [int(any(c in span_chars for c in range(a, b))) for a, b in encoding.offsets]
    assert tokens.assistant_mask == expected
    tokenized = {c for a, b in encoding.offsets for c in range(a, b)}
    masked = {c for (a, b), m in zip(encoding.offsets, tokens.assistant_mask) if m for c in range(a, b)}
    assert span_chars & tokenized <= masked


@SETTINGS
@given(messages=conversations())
def test_mask_equals_transformers_assistant_tokens_mask_with_our_template(smollm2_tokenizer, messages):
    tokenizer = copy.copy(smollm2_tokenizer)
    tokenizer.chat_template = get_template("smollm2").jinja
    hf = tokenizer.apply_chat_template(messages, tokenize=True, return_dict=True,
                                       return_assistant_tokens_mask=True)
    ours = render_tokens(messages, smollm2_tokenizer, "smollm2")
    assert ours.input_ids == hf["input_ids"]
    assert ours.assistant_mask == hf["assistant_masks"]


def test_no_double_bos_even_when_the_tokenizer_adds_one_itself(smollm2_tokenizer):
    tokenizer = copy.deepcopy(smollm2_tokenizer)
    tokenizer.add_bos_token = True  # SmolLM2's BOS is <|im_start|>, which its template already starts with
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    text = get_template("smollm2").render(messages).text
    assert tokenizer(text)["input_ids"][:2] == [1, 1]  # what a plain tokenizer call would train on
    ids = render_tokens(messages, tokenizer, "smollm2").input_ids
    assert ids[0] == 1 and ids[1] != 1
    assert ids.count(tokenizer.bos_token_id) == text.count("<|im_start|>")


def test_batch_form_equals_one_by_one(smollm2_tokenizer):
    batch = [[{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"answer {i}"}] for i in range(5)]
    assert render_tokens_batch(batch, smollm2_tokenizer, "chatml") == \
        [render_tokens(c, smollm2_tokenizer, "chatml") for c in batch]


def test_a_tokenizer_without_offsets_is_refused_by_name():
    import pytest

    class SlowTokenizer:  # a Python tokenizer: no Rust backend, so no character offsets
        def __call__(self, text: str) -> list[int]:
            return [len(text)]

    with pytest.raises(TypeError, match=r"^SlowTokenizer is not a fast tokenizer: offsets are needed for the mask$"):
        render_tokens([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}], SlowTokenizer())

"""Pair tokens: texts cut after a special token tokenize as the whole texts do, for any pair,
template and script; tokenizers where that does not hold are tokenized whole."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import get_template
from templating.supervision.pairs import PairTokens, cut_tokens, pair_tokens
from templating.tokens import fast_backend
from tests.strategies import pairs

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                            HealthCheck.function_scoped_fixture])


def whole(pair, tokenizer, template):
    """The reference: every text tokenized whole (what TRL does)."""
    backend = fast_backend(tokenizer)
    texts = [template.render([m.to_dict() for m in pair.prompt], add_generation_prompt=True).text]
    texts += [template.render([m.to_dict() for m in pair.prompt + reply]).text
              for reply in (pair.chosen, pair.rejected)]
    prompt, *full = [e.ids for e in backend.encode_batch(texts, add_special_tokens=False)]
    start = min(next((i for i, (x, y) in enumerate(zip(prompt, f)) if x != y), min(len(prompt), len(f))) for f in full)
    return PairTokens(prompt, full, start)


@pytest.mark.parametrize("name", ["smollm2", "chatml", "qwen2.5", "llama3", "zephyr", "gemma"])
@SETTINGS
@given(pair=pairs(), korean=st.booleans())
def test_tokens_of_cut_texts_equal_tokens_of_whole_texts(smollm2_tokenizer, name, pair, korean):
    if korean:  # another script through the same byte-level tokenizer
        pair = pair.model_copy(update={"chosen": [pair.chosen[0].model_copy(update={"content": "안녕하세요 " +
                                                                                             pair.chosen[0].content})]})
    template = get_template(name)
    if name == "gemma" and pair.prompt[0].role == "system":
        return  # gemma refuses a leading system turn
    assert pair_tokens([pair], smollm2_tokenizer, template) == [whole(pair, smollm2_tokenizer, template)]


def test_only_byte_level_tokenizers_without_normalizer_are_cut(smollm2_tokenizer):
    from tokenizers import Tokenizer, models, normalizers, pre_tokenizers

    assert "<|im_start|>" in cut_tokens(fast_backend(smollm2_tokenizer))
    sentencepiece_like = Tokenizer(models.BPE())
    sentencepiece_like.pre_tokenizer = pre_tokenizers.Metaspace()  # a prefix space for each piece: not cut
    assert cut_tokens(sentencepiece_like) == ()
    normalized = Tokenizer(models.BPE())
    normalized.normalizer = normalizers.NFKC()
    normalized.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    assert cut_tokens(normalized) == ()

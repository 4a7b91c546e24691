"""training/samples.py: what a sample reply prints."""

from __future__ import annotations

import pytest

from training.samples import reply_text


@pytest.mark.parametrize("text", ["안녕하세요, 반가워요", "ok 😀👍", "naïve café", "مرحبا بالعالم", "日本語のテキスト"])
def test_a_reply_cut_inside_a_character_drops_the_incomplete_bytes_and_nothing_else(smollm2_tokenizer, text):
    ids = smollm2_tokenizer.encode(text, add_special_tokens=False)
    for cut in range(1, len(ids) + 1):
        reply = reply_text(smollm2_tokenizer, ids[:cut], stopped=False)
        assert "\ufffd" not in reply and text.startswith(reply)  # whole characters, in order, none made up
        decoded = smollm2_tokenizer.decode(ids[:cut])
        assert reply == decoded.rstrip("\ufffd").strip()  # what the tokens spell, less the cut character
    assert reply_text(smollm2_tokenizer, ids, stopped=False) == text


def test_a_reply_that_stopped_is_printed_as_decoded(smollm2_tokenizer):
    ids = smollm2_tokenizer.encode("안녕", add_special_tokens=False)
    assert reply_text(smollm2_tokenizer, ids[:-1], stopped=True) == smollm2_tokenizer.decode(ids[:-1]) == "안\ufffd"

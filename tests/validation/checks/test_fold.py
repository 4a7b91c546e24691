"""The near-duplicate fold is one definition (`validation.checks.fold`) that every path hashes alike.

The C fold (`rowscan.fold`, used by the prover, stats' reader and every hash) must equal the
Python reference on any Unicode text, and each C path must give the hashes `hash_conversation`
gives the decoded strings, whatever the script and however the JSON is escaped.
"""

from __future__ import annotations

import json
import unicodedata

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from validation import _rowscan
from validation.checks.messages import BIDI
from validation.checks.fold import HEADER, header_text, reference_fold
from validation.readers.formats import get_format
from validation.checks.prover import Prover, fold, hash_conversation
from validation.statistics.frames import CONVERSATION_DTYPE

FAST = settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
MESSAGES = get_format("messages").raw
# Characters where folds go wrong: Turkish dotted and dotless I, final sigma, German sharp s and
# its capital, the Kelvin and Ångström signs, full-width forms, combining marks, right-to-left
# text, characters whose lower case is longer in UTF-8 (U+023A), every kind of whitespace.
TRICKY = ("İıIiΣσςßẞKÅȺȾＡＢａｂ\u0301\u0308\u200d\u05d0\u05d1\u0627\u0644\u200f\u202e"
          "\t\n\r \u000b\u000c\u001c\u001f\u0085\u00a0\u1680\u2000\u200a\u2028\u2029\u202f\u205f\u3000"
          "😀👍🏽🇰🇷\U0001d400\U00010400\U0001e900가힣ㄱ")
ANY_TEXT = st.text(st.characters(blacklist_categories=("Cs",)))  # every plane; no lone surrogate
TRICKY_TEXT = st.text(st.sampled_from(TRICKY))
TEXTS = st.one_of(ANY_TEXT, TRICKY_TEXT, st.lists(st.one_of(ANY_TEXT, TRICKY_TEXT), max_size=4).map("".join))
CLEAN_TEXT = TEXTS.filter(lambda t: t.strip() and not BIDI.search(t) and  # (bidi controls: the precise path warns)
                          not any(unicodedata.category(c) == "Cc" and c not in "\t\n\r" for c in t))


def test_the_c_table_is_generated_from_this_pythons_unicode_data():
    if f'"{unicodedata.unidata_version}"' not in HEADER.read_text(encoding="utf-8").splitlines()[1]:
        pytest.skip(f"_foldtable.h was generated for another Unicode version than {unicodedata.unidata_version}")
    assert HEADER.read_text(encoding="utf-8") == header_text(), "run `python -m validation.checks.fold`"


@FAST
@given(TEXTS)
@example("ΟΔΟΣ")  # a final sigma folds like any other: σ, not ς
@example("İ")  # the one character whose lower case is two
@example("Ⱥ")  # two bytes whose lower case takes three
@example("  a\u3000\u3000B\u2028 ")
def test_the_c_fold_equals_the_python_reference(text):
    assert fold(text) == reference_fold(text)


@FAST
@given(st.text(st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1f"), max_size=2),
       st.lists(st.tuples(st.text(st.sampled_from("aZq.é한’"), min_size=1, max_size=9),
                          st.sampled_from(" \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f")), max_size=14))
def test_the_fold_of_words_between_single_whitespace_of_any_kind_is_the_python_reference(lead, words):
    """Sixteen-byte blocks fold whole when each whitespace character stands alone: every kind, at every offset."""
    text = lead + "".join(word + space for word, space in words)
    assert fold(text) == reference_fold(text)


@FAST
@given(st.lists(st.text(st.sampled_from("aZ.ÉéΣδДжĀǅＡａꙀ𐐀中가😀İȺΩKẞ\u00a0"), min_size=1, max_size=9), max_size=14),
       st.integers(0, 15))
def test_blocks_fold_capitals_of_every_script_in_place_at_every_offset(words, shift):
    """A block of sixteen bytes folds its characters in place when each fold is as long as the
    character (É, Σ, Д, Ā, ǅ, Ａ, Ꙁ, 𐐀) and ends before one whose fold is not (İ, Ⱥ: longer; Ω,
    K, ẞ: shorter; a no-break space), or one the block's end cuts: at every offset."""
    text = "x" * shift + " ".join(words)
    assert fold(text) == reference_fold(text)


def test_fold_examples():
    assert fold("  Ich  GRÜẞE\u3000ΣΟΦΙΑ\n") == "ich grüße σοφια"
    assert fold("İSTANBUL") == "i\u0307stanbul"
    assert fold("\u00a0\u2028 \t") == ""


@pytest.mark.parametrize("text", ["가나 다라", "가나  다라", " 가나", "가나 ", "가\u3000나", "中文 العربية", "ÀB", "aB",
                                  "ΣΟΦΙΑ", "ｆｕｌｌ Ｗｉｄｔｈ", "שלום\u200f", "👍🏽 ok", "a\u00a0b"])
@pytest.mark.parametrize("times", [1, 7])  # short texts, and long ones that the C code reads 16 bytes at a time
def test_the_folded_hash_skips_folding_only_text_that_folds_to_itself(text, times):
    text = " ".join([text.strip() or text] * times) if times > 1 else text
    assert hash_conversation(["user"], [text])[1] == hash_conversation(["user"], [reference_fold(text)])[0]


@FAST
@given(st.lists(st.text(st.sampled_from("ab.가힣かの中😀é"), min_size=1, max_size=8), min_size=2, max_size=9),
       st.booleans(), TEXTS)
def test_the_folded_hash_of_a_head_that_folds_to_itself_and_any_tail_is_that_of_the_python_fold(words, space, tail):
    """The C hash copies the blocks of sixteen bytes that fold to themselves and folds from the
    first that does not (a space at the head's end owed, a character cut by a block's end)."""
    head = " ".join(words)
    head += "a" * (-(len(head.encode()) + space) % 16) + " " * space  # the head ends at a block's end
    text = head + tail
    assert hash_conversation(["user"], [text])[1] == hash_conversation(["user"], [reference_fold(text)])[0]


@FAST
@given(st.lists(st.tuples(st.text(st.sampled_from("aZ.é가깋ｆＡ，😀𐐀ệỆ中ÉΣ"), min_size=1, max_size=6),
                          st.sampled_from([" ", " ", "\t", "\n", "\x1f", "  "])), min_size=1, max_size=12),
       st.integers(0, 15))
def test_the_folded_hash_of_text_folded_byte_for_byte_is_that_of_the_python_fold(words, shift):
    """Text whose fold only lowers ASCII capitals and makes single ASCII whitespace spaces is
    folded in the one pass that checks it; anything else (two whitespace in a row, a capital of
    another script, a character whose first bytes a block's end cuts) hands over to the full
    fold: every kind at every offset."""
    text = "x" * shift + "".join(word + space for word, space in words).rstrip()
    assert hash_conversation(["user"], [text])[1] == hash_conversation(["user"], [reference_fold(text)])[0]


def _line(roles: list[str], contents: list[str], ensure_ascii: bool) -> bytes:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in zip(roles, contents)]},
                      ensure_ascii=ensure_ascii).encode()


@FAST
@given(st.lists(CLEAN_TEXT, min_size=1, max_size=3), st.booleans())
def test_every_c_path_hashes_any_text_as_hash_conversation_does(pairs, ensure_ascii):
    roles = ["user", "assistant"] * len(pairs)
    contents = [text for pair in pairs for text in (pair, pair.upper())]
    contents = [c if c.strip() else "x" for c in contents]
    expected = hash_conversation(roles, contents)
    assert expected[1] == hash_conversation(roles, [reference_fold(c) for c in contents])[0]
    line = _line(roles, contents, ensure_ascii)
    # the prover clears every clean row, whatever its script and escapes
    assert Prover(MESSAGES).prove([line]) == [(*expected, sum(map(len, contents)))]
    # stats' reader
    part = _rowscan.read_messages(line, b"messages", b"role", b"content", None, True)
    conv = np.frombuffer(part[11], np.dtype(CONVERSATION_DTYPE))
    assert (int(conv["exact"][0]), int(conv["folded"][0])) == expected
    assert int(conv["length"][0]) == sum(map(len, contents))
    assert part[3] == 0  # no whitespace-only message


@pytest.mark.parametrize("text", ["\u00a0\u3000", " \u2028\t", "\u1680\u205f"])
def test_stats_reader_counts_whitespace_only_messages_of_any_kind(text):
    line = _line(["user", "assistant"], [text, "ok"], ensure_ascii=False)
    assert _rowscan.read_messages(line, b"messages", b"role", b"content", None, True)[3] == 1

"""The hashed windows the corpus checks compare: equal windows hash equal, words split alike everywhere."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from validation.checks.shingles import lowered, normalised, window_hashes, word_bounds, word_hashes, words

ROWS = st.lists(st.lists(st.integers(1, 4), max_size=9), min_size=1, max_size=7)
# scripts with and without spaces, case that changes length (İ), combining marks, emoji, Arabic
TEXT = st.text(st.sampled_from(list("ab Z9_-.,!?日本語カタカナひらがな한국어İΣσßé\u0301😀\u3000\u0307ـ٣")), max_size=40)


def reference(rows: list[list[int]], n: int, whole: bool) -> tuple[list[tuple[int, ...]], list[int]]:
    windows, counts = [], []
    for row in rows:
        found = [tuple(row[i:i + n]) for i in range(len(row) - n + 1)]
        if not found and whole and row:
            found = [tuple(row)]
        windows += found
        counts.append(len(found))
    return windows, counts


@settings(max_examples=300, deadline=None)
@given(rows=ROWS, n=st.integers(1, 5), whole=st.booleans())
def test_window_hashes_count_each_rows_windows_and_equal_windows_hash_equal(rows, n, whole):
    values = np.array([v for row in rows for v in row], dtype=np.uint64)
    hashes, counts = window_hashes(values, np.array([len(r) for r in rows]), n, whole=whole)
    windows, expected = reference(rows, n, whole)
    assert counts.tolist() == expected
    seen: dict[tuple[int, ...], int] = {}
    for window, value in zip(windows, hashes.tolist()):
        assert seen.setdefault(window, value) == value
    assert len(set(seen.values())) == len(seen)  # (no collision among so few)


@settings(max_examples=300, deadline=None)
@given(text=TEXT)
def test_the_words_shown_are_the_words_hashed(text):
    points = lowered([text])[0]
    as_text = points.tobytes().decode("utf-32-le", "surrogatepass")
    starts, ends = word_bounds(points)
    assert words(text) == [as_text[a:b] for a, b in zip(starts.tolist(), ends.tolist())]
    _, counts = word_hashes([text])
    assert counts.tolist() == [len(words(text))]


@settings(max_examples=200, deadline=None)
@given(texts=st.lists(TEXT, min_size=1, max_size=5))
def test_hashing_texts_together_equals_hashing_each_alone(texts):
    together, counts = word_hashes(texts)
    alone = [word_hashes([t])[0].tolist() for t in texts]
    assert together.tolist() == [h for part in alone for h in part]
    assert counts.tolist() == [len(part) for part in alone]
    points, lengths = normalised(texts)
    each = [normalised([t]) for t in texts]
    assert points.tolist() == [p for part, _ in each for p in part.tolist()]
    assert lengths.tolist() == [int(n[0]) for _, n in each]


def test_case_punctuation_and_spacing_do_not_count():
    assert words("The  CAT, sat!") == words("the cat sat") == ["the", "cat", "sat"]
    assert words("İSTANBUL'da") == ["istanbul", "da"]
    assert words("東京タワー 서울타워") == ["東", "京", "タ", "ワ", "ー", "서울타워"]

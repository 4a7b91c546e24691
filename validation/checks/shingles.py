"""Texts as hashed windows, for the corpus-level checks: near-duplicates and benchmark overlap.

Both compare normalised text: `fold` (whitespace runs to one space, lower case, in C for all of
Unicode), punctuation and symbols dropped. Near-duplicates hash windows of characters (as NeMo Curator's fuzzy dedup does), so
that every script is measured alike, spaces or none; benchmark overlap hashes windows of words
(13 words, as the GPT-3 paper and datatrove's decontamination do), where a Han or kana character
is a word of its own (those scripts write no spaces) and any other run of letters and digits is
one word (a Korean word included: Korean writes spaces). The hashes of many rows are made
at once with numpy, a bounded number of values at a time.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from functools import lru_cache

import numpy as np

from validation.checks.messages import SEP
from validation.checks.prover import fold

CJK = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
BATCH = 1 << 20  # values hashed at once (the temporary arrays stay a few MB)
_BASE = 0x100000001B3  # odd, so invertible modulo 2**64
_INVERSE = pow(_BASE, -1, 1 << 64)
SCOPES = ("conversation", "assistant", "user")
WORD, ALONE = 1, 2  # `_classes`: a letter or digit; one that is a word by itself (Han, kana)


def scoped_text(dup_text: str, scope: str = "conversation") -> str:
    """The contents of a row's duplicate text (`checks.dup_text`: role letters, then the contents)
    that `scope` compares, one per line: every message, or the assistant's (or the user's) only.

    Example:
        >>> scoped_text("sua" + SEP + "Be brief." + SEP + "Hi" + SEP + "Hello", "assistant")
        'Hello'
    """
    roles, *contents = dup_text.split(SEP)
    if scope == "conversation":
        return "\n".join(contents)
    letter = scope[0]
    return "\n".join(c for r, c in zip(roles, contents) if r == letter)


def codepoints(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points of all `texts` one after another, each text's length)."""
    lengths = np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))
    return np.frombuffer("".join(texts).encode("utf-32-le", "surrogatepass"), dtype=np.uint32), lengths


@lru_cache(maxsize=1)
def _classes() -> np.ndarray:
    """Per code point: 0, WORD (a letter or digit: Python's `[^\\W_]`) or ALONE (one in CJK)."""
    table = np.zeros(0x110000, dtype=np.uint8)
    for match in re.finditer(r"[^\W_]+", "".join(map(chr, range(0x110000)))):
        table[match.start():match.end()] = WORD
    for low, high in CJK:
        part = table[low:high + 1]
        part[part == WORD] = ALONE
    return table


def word_bounds(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(starts, ends) of the words in a run of code points: runs of letters and digits, each Han or
    kana character a word of its own (those scripts write no spaces; Korean does)."""
    kind = _classes()[points]
    word = kind > 0
    alone = kind == ALONE
    before = np.r_[False, word[:-1]]
    after = np.r_[word[1:], False]
    starts = np.flatnonzero(word & (~before | alone | np.r_[False, alone[:-1]]))
    ends = np.flatnonzero(word & (~after | alone | np.r_[alone[1:], False])) + 1
    return starts, ends


def normalised(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points, lengths) of `texts` as near-duplicates compare them: folded, and each run of
    characters that are not letters or digits (punctuation, spaces, symbols, emoji) one space.

    Example:
        >>> points, lengths = normalised(["Hi,  THERE!", "¿Qué?", "..."])
        >>> "".join(map(chr, points.tolist())), lengths.tolist()
        ('hi there qué ', [9, 4, 0])
    """
    folded = [fold(t) + " " for t in texts]  # (the space: no text runs into the next)
    points, lengths = codepoints(folded)
    word = _classes()[points] > 0
    keep = word | np.r_[False, word[:-1]]  # letters and digits, and the first character after a word
    row = np.repeat(np.arange(len(texts)), lengths)[keep]
    return np.where(word, points, 32)[keep].astype(np.uint32), np.bincount(row, minlength=len(texts))


def words(text: str) -> list[str]:
    """The words of a text as benchmark overlap compares them (folded first).

    Example:
        >>> words("Natalia sold 48 clips, in APRIL!  日本語 한국어 snake_case")
        ['natalia', 'sold', '48', 'clips', 'in', 'april', '日', '本', '語', '한국어', 'snake', 'case']
    """
    folded = fold(text)
    starts, ends = word_bounds(codepoints([folded])[0])
    return [folded[a:b] for a, b in zip(starts.tolist(), ends.tolist())]


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(a hash per word of each text, one text after another; the words of each text): the same
    word hashes the same in every process (folded first, `words`).

    Example:
        >>> hashes, counts = word_hashes(["the cat", "The  CAT!"])
        >>> counts.tolist(), hashes[:2].tolist() == hashes[2:].tolist()
        ([2, 2], True)
    """
    folded = [fold(t) for t in texts]
    out, counts = [], np.zeros(len(texts), dtype=np.int64)
    for start, end in _batches(np.fromiter(map(len, folded), dtype=np.int64, count=len(folded))):
        points, lengths = codepoints([t + " " for t in folded[start:end]])  # (no word spans two texts)
        starts, ends = word_bounds(points)
        prefix, inverse = _prefix(points)
        with np.errstate(over="ignore"):
            out.append((prefix[ends] - prefix[starts]) * inverse[starts])
        edges = np.cumsum(lengths)
        counts[start:end] = np.bincount(np.searchsorted(edges, starts, side="right"), minlength=end - start)
    return (np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)), counts


def window_hashes(values: np.ndarray, lengths: np.ndarray, n: int, *,
                  whole: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """(hashes, windows per row) of every window of `n` consecutive values of each row (`values`:
    the rows one after another, `lengths` long), rows in order; a window never spans two rows. A
    row shorter than `n` has no window, or with `whole` (if not empty) one: the hash of all of it.
    The hash of a window is polynomial modulo 2**64, so equal windows hash equal wherever they sit.

    Example:
        >>> hashes, counts = window_hashes(np.array([1, 2, 3, 1, 2, 7], dtype=np.uint64), np.array([5, 1]), 2)
        >>> counts.tolist(), bool(hashes[0] == hashes[3]), len(set(hashes.tolist()))
        ([4, 0], True, 3)
    """
    out: list[np.ndarray] = []
    counts = np.zeros(len(lengths), dtype=np.int64)
    offsets = np.r_[0, np.cumsum(lengths)]
    for start, end in _batches(lengths):
        hashes, counts[start:end] = _windows(values[offsets[start]:offsets[end]], lengths[start:end], n, whole)
        out.append(hashes)
    return (np.concatenate(out) if out else np.zeros(0, dtype=np.uint64)), counts


def _batches(lengths: np.ndarray) -> Iterator[tuple[int, int]]:
    """(start, end) of consecutive rows holding about BATCH values (a longer row alone)."""
    start, ends = 0, np.cumsum(lengths)
    while start < len(lengths):
        base = ends[start - 1] if start else 0
        end = max(int(np.searchsorted(ends, base + BATCH, side="right")), start + 1)
        yield start, end
        start = end


def _prefix(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(prefix sums of values times powers of the base, inverse powers): the hash of values[a:b] is
    (prefix[b] - prefix[a]) * inverse[a]."""
    total = len(values)
    size = 1 << max(BATCH, total + 1).bit_length()  # (few sizes: each is computed once)
    powers, inverse = _powers(_BASE, size), _powers(_INVERSE, size)
    prefix = np.zeros(total + 1, dtype=np.uint64)
    with np.errstate(over="ignore"):
        np.cumsum(values.astype(np.uint64, copy=False) * powers[:total], out=prefix[1:])
    return prefix, inverse


@lru_cache(maxsize=4)
def _powers(base: int, size: int) -> np.ndarray:
    p = np.full(size, base, dtype=np.uint64)
    p[0] = 1
    with np.errstate(over="ignore"):
        return np.cumprod(p)


def _windows(values: np.ndarray, lengths: np.ndarray, n: int, whole: bool) -> tuple[np.ndarray, np.ndarray]:
    counts = np.maximum(lengths - n + 1, 0)
    if whole:
        counts[(lengths > 0) & (lengths < n)] = 1
    if not counts.any():
        return np.zeros(0, dtype=np.uint64), counts
    prefix, inverse = _prefix(values)
    starts = np.cumsum(lengths) - lengths
    # the windows of each row: from its start, `counts` of them, each `n` long (or the row's length)
    at = np.repeat(starts, counts) + (np.arange(int(counts.sum())) - np.repeat(np.cumsum(counts) - counts, counts))
    span = np.repeat(np.minimum(lengths, n), counts)
    with np.errstate(over="ignore"):
        return (prefix[at + span] - prefix[at]) * inverse[at], counts

"""Texts as hashed windows, for the corpus-level checks: near-duplicates and benchmark overlap.

Both compare normalised text: lower case, and every run of characters that are not letters or
digits (spaces, punctuation, symbols, emoji) one boundary. Near-duplicates hash windows of
characters (as NeMo Curator's fuzzy dedup does), so that every script is measured alike, spaces
or none; benchmark overlap hashes windows of words
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

CJK = ((0x3040, 0x30FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0x20000, 0x3134F))
BATCH = 1 << 20  # values hashed at once (the temporary arrays stay a few MB)
_BASE = 0x100000001B3  # odd, so invertible modulo 2**64
_INVERSE = pow(_BASE, -1, 1 << 64)
SCOPES = ("conversation", "assistant", "user")
WORD, ALONE = 1, 2  # `_classes`: a letter or digit; one that is a word by itself (Han, kana)
_CJK = "".join(f"{chr(low)}-{chr(high)}" for low, high in CJK)
_RUN, _ALONE, _SPLIT = re.compile(r"[^\W_]+"), re.compile(f"[{_CJK}]"), re.compile(f"[{_CJK}]|[^{_CJK}]+")


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


def lowered(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points, lengths) of the texts lower-cased, each followed by a space (so that no word
    runs into the next text), lower-cased by a table: one gather for all of them."""
    joined = " ".join(texts) + " "
    points = np.frombuffer(joined.encode("utf-32-le", "surrogatepass"), dtype=np.uint32)
    return _lower()[points], np.fromiter((len(t) + 1 for t in texts), dtype=np.int64, count=len(texts))


@lru_cache(maxsize=1)
def _lower() -> np.ndarray:
    """Per code point, its lower case (`str.lower`; İ, whose lower case is two characters, to i)."""
    every = "".join(map(chr, range(0x110000))).replace("\u0130", "I")
    table = np.frombuffer(every.lower().encode("utf-32-le", "surrogatepass"), dtype=np.uint32).copy()
    assert len(table) == 0x110000  # (no other character lower-cases to more than one)
    return table


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
    # a word starts where a letter follows a non-letter, and around each character that stands alone
    cut = (kind == ALONE) | ~word
    start = word.copy()
    start[1:] &= cut[:-1] | (kind[1:] == ALONE)
    end = word.copy()
    end[:-1] &= cut[1:] | (kind[:-1] == ALONE)
    return np.flatnonzero(start), np.flatnonzero(end) + 1


def normalised(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(code points, lengths) of `texts` as near-duplicates compare them: lower-cased, each run of
    characters that are not letters or digits (punctuation, spaces, symbols, emoji) one space, and a
    space after each text.

    Example:
        >>> points, lengths = normalised(["Hi,  THERE!", "¿Qué?", "..."])
        >>> "".join(map(chr, points.tolist())), lengths.tolist()
        ('hi there qué ', [9, 4, 0])
    """
    points, lengths = lowered(texts)
    word = _classes()[points] > 0
    keep = word.copy()
    keep[1:] |= word[:-1]  # letters and digits, and the first character after a word
    kept = np.r_[0, np.cumsum(keep)]
    ends = np.cumsum(lengths)
    return np.where(word, points, 32)[keep], kept[ends] - kept[ends - lengths]


def words(text: str, first: int = 0, stop: int | None = None) -> list[str]:
    """The words of a text as benchmark overlap compares them (lower-cased); `first` and `stop`:
    those words only.

    Example:
        >>> words("Natalia sold 48 clips, in APRIL!  日本語 한국어 snake_case")
        ['natalia', 'sold', '48', 'clips', 'in', 'april', '日', '本', '語', '한국어', 'snake', 'case']
    """
    text = lowered([text])[0].tobytes().decode("utf-32-le", "surrogatepass")
    runs = _RUN.findall(text)  # runs of letters and digits; those holding Han or kana split further
    found = runs if not _ALONE.search(text) else [w for run in runs for w in
                                                     (_SPLIT.findall(run) if _ALONE.search(run) else (run,))]
    return found[first:stop]


def word_hashes(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """(a hash per word of each text, one text after another; the words of each text): the same
    word hashes the same in every process (lower-cased, `words`).

    Example:
        >>> hashes, counts = word_hashes(["the cat", "The  CAT!"])
        >>> counts.tolist(), hashes[:2].tolist() == hashes[2:].tolist()
        ([2, 2], True)
    """
    out, counts = [], np.zeros(len(texts), dtype=np.int64)
    for start, end in _batches(np.fromiter(map(len, texts), dtype=np.int64, count=len(texts))):
        points, lengths = lowered(texts[start:end])
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
    short = (lengths > 0) & (lengths < n) if whole else None
    if short is not None:
        counts[short] = 1
    if not counts.any():
        return np.zeros(0, dtype=np.uint64), counts
    prefix, inverse = _prefix(values)
    total = len(values)
    ends = np.cumsum(lengths)
    with np.errstate(over="ignore"):
        windows = (prefix[n:] - prefix[:total - n + 1]) * inverse[:total - n + 1] if total >= n \
            else np.zeros(0, dtype=np.uint64)
        # a window starting in the last n - 1 values of a row runs into the next row: not one of its windows
        inside = np.ones(len(windows), dtype=bool)
        late = (ends[:, None] - np.arange(1, n)).ravel()
        inside[late[(late >= 0) & (late < len(inside))]] = False
        if short is None or not short.any():
            return windows[inside], counts
        # a short row's one window: all of it, in its place among the others
        starts = ends - lengths
        hashes = (prefix[ends[short]] - prefix[starts[short]]) * inverse[starts[short]]
    at = np.cumsum(counts) - counts  # where each row's windows begin in the result
    result = np.empty(int(counts.sum()), dtype=np.uint64)
    put = np.ones(len(result), dtype=bool)
    put[at[short]] = False
    result[put] = windows[inside]
    result[at[short]] = hashes
    return result, counts

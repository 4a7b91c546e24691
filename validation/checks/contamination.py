"""Benchmark contamination: training rows that share a run of `ngram` words with a benchmark row.

The benchmark (a file, a `datasets` folder or a hub dataset: the usual readers) is read once into
a sorted array of the hashes of its `ngram`-word windows (`shingles.words`: lower-cased, punctuation
dropped, a Han or kana character a word of its own), each with the first benchmark row that has
it. The messages of a training row, one per line, are cut the same way and looked up, a chunk of
rows at a time; a row with a hit gets one `benchmark-overlap` error naming
the benchmark row and the longest run of words the two share. 13 words by default, as the GPT-3
paper and datatrove's n-gram decontamination use. A benchmark text shorter than `ngram` words
cannot match and is counted (`short_rows`) so that a report says so.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
from validation.checks.shingles import scoped_text, window_hashes, word_hashes, words
from validation.errors import InputError
from validation.report import Issue
from validation.summaries import ContaminationSummary

DEFAULT_NGRAM = 13
SHOWN_WORDS = 40  # of the shared run, in the message
SIEVE_BITS = 24


class Benchmark:
    """The n-gram index of a benchmark's texts; `check` finds the training rows that overlap it."""

    def __init__(self, name: str, texts: Sequence[tuple[int, str]], *, ngram: int = DEFAULT_NGRAM,
                 field: str | None = None) -> None:
        """`texts`: (benchmark row, text) pairs; a row may have several texts."""
        if ngram < 1:
            raise InputError(f"--ngram must be at least 1, not {ngram}")
        self.name, self.ngram, self.field = name, ngram, field
        self.rows = len({row for row, _ in texts})
        hashes, counts = window_hashes(*word_hashes([text for _, text in texts]), ngram)
        self.short = int((counts == 0).sum())
        owners = np.repeat(np.array([row for row, _ in texts], dtype=np.int64), counts)
        order = np.argsort(hashes, kind="stable")  # equal windows keep the first benchmark row first
        self.keys, self.owners = hashes[order], owners[order]
        # a first sieve: most windows of most rows miss, and a bit table answers them at a gather's cost
        self.sieve = np.zeros(1 << SIEVE_BITS, dtype=bool)
        self.sieve[self.keys >> np.uint64(64 - SIEVE_BITS)] = True
        self.hit: set[int] = set()  # benchmark rows matched so far (in this process)

    @classmethod
    def load(cls, source: str | os.PathLike[str], *, field: str | None = None, format: str | None = None,
             split: str = "test", ngram: int = DEFAULT_NGRAM) -> Benchmark:
        """The benchmark at `source` (any source `validate` reads; a hub id's `split`): the texts of
        `field` of each row, or every string the row holds.

        Raises:
            InputError: the source cannot be read, a row lacks `field`, or no text is long enough.
        """
        from validation.readers.source import dataset_of

        with dataset_of(source, format=format, split=split) as data:
            name = data.name
            texts = [(record.row, text) for record in data.records() for text in _texts(record, field, name)]
        benchmark = cls(name, texts, ngram=ngram, field=field)
        if not len(benchmark.keys):
            raise InputError(f"{name}: no benchmark text has {ngram} words or more; nothing could match "
                             "(lower --ngram)")
        return benchmark

    def summary(self, contaminated: int) -> ContaminationSummary:
        return ContaminationSummary(benchmark=self.name, field=self.field, ngram=self.ngram,
                                    benchmark_rows=self.rows, short_texts=self.short, contaminated=contaminated,
                                    benchmark_rows_hit=len(self.hit))

    def check(self, rows: Sequence[int], texts: Sequence[str], root: str) -> dict[int, Issue]:
        """The `benchmark-overlap` issue of each row (by its index in `rows`) whose duplicate text
        (`checks.dup_text`) shares `ngram` words with a benchmark text."""
        contents = [scoped_text(text) for text in texts]
        hashes, counts = window_hashes(*word_hashes(contents), self.ngram)
        candidates = np.flatnonzero(self.sieve[hashes >> np.uint64(64 - SIEVE_BITS)])
        if not len(candidates):
            return {}
        at = np.zeros(len(hashes), dtype=np.int64)
        at[candidates] = np.minimum(np.searchsorted(self.keys, hashes[candidates]), len(self.keys) - 1)
        found = np.zeros(len(hashes), dtype=bool)
        found[candidates] = self.keys[at[candidates]] == hashes[candidates]
        issues: dict[int, Issue] = {}
        for k, first, length, bench in self._longest(found, at, counts):
            shared = words(contents[k], first, first + min(length, SHOWN_WORDS))
            text = " ".join(shared) + (" …" if length > SHOWN_WORDS else "")
            issues[k] = Issue.make(rows[k], root, "benchmark-overlap", f"shares {length} words with row {bench} of "
                                   f"benchmark {self.name}: “{text}”")
            self.hit.add(bench)
        return issues

    def _longest(self, found: np.ndarray, at: np.ndarray, counts: np.ndarray) -> list[tuple[int, int, int, int]]:
        """(row index, first word, words, benchmark row) of the longest run of consecutive matching
        windows of each row with a match (the first of the longest), all rows at once."""
        starts = np.cumsum(counts) - counts  # each row's first window
        row_start = np.zeros(len(found), dtype=bool)
        row_start[starts[counts > 0]] = True
        begins = found.copy()
        begins[1:] &= ~found[:-1] | row_start[1:]  # a run begins at a match after a miss or a row's start
        first = np.flatnonzero(begins)
        run = np.cumsum(begins)[found] - 1  # the run of each matching window
        length = np.bincount(run, minlength=len(first))
        row = np.searchsorted(starts, first, side="right") - 1
        order = np.lexsort((first, -length, row))  # per row: the longest, then the first
        best = order[np.r_[True, row[order][1:] != row[order][:-1]]]
        return [(int(row[r]), int(first[r] - starts[row[r]]), int(length[r]) + self.ngram - 1,
                 int(self.owners[at[first[r]]])) for r in best]


def _texts(record: Any, field: str | None, name: str) -> Iterator[str]:
    """The texts of one benchmark row: its `field` (a string, or messages whose contents count),
    or every string the row holds."""
    data = record.data
    if isinstance(data, Issue):
        raise InputError(f"{name}: row {record.row}: {data.message} (the benchmark must be readable)")
    if field is None:
        yield from _strings(data)
        return
    if not isinstance(data, dict) or field not in data:
        raise InputError(f"{name}: row {record.row} has no field {field!r} (--bench-field)")
    value = data[field]
    if not isinstance(value, (str, list)):
        raise InputError(f"{name}: row {record.row}: {field} is {type(value).__name__}, not text (--bench-field)")
    yield from _strings(value)


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)

"""Near-duplicate clusters: MinHash over character shingles, LSH bands, connected rows.

Each row's normalised text (`shingles.scoped_text`, then `shingles.normalised`: lower-cased, punctuation
dropped) is cut into windows of `shingle`
characters; rensa computes their MinHash signature (`num_perm` values). The signature is cut into
`bands` bands of `rows_per_band` values; two rows whose values agree on a whole band are linked,
and linked rows form one cluster (connected components, as datatrove's MinHash dedup does; no
second verification). A pair with Jaccard similarity J is linked with probability
1 - (1 - J**r)**b: the S-curve `lsh_parameters` places at `threshold`. A cluster keeps its first
row in input order; each later row is a `fuzzy-duplicate` of it (an error: asked for with
--near-dup, so that --write-clean keeps one row per cluster). Identical texts have identical
signatures, so exact duplicates always share a cluster.

Workers compute the band keys (8 bytes a band a row); the keys of every row are resolved at the
end, in the main process, since a later row can join two clusters into one.
"""

from __future__ import annotations

from array import array
from collections import Counter
from collections.abc import Sequence
from typing import Any

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from validation.checks.shingles import SCOPES, normalised, scoped_text, window_hashes
from validation.errors import InputError
from validation.report import Findings, Issue
from validation.summaries import NearDupSummary

_BAND_BASE = np.uint64(0x9E3779B97F4A7C15)


class NearDupOptions(BaseModel):
    """How rows are compared: `threshold` (the Jaccard similarity the LSH S-curve is placed at),
    `shingle` (characters a window), `num_perm` (MinHash values a row), `scope` (`conversation`:
    every message; `assistant` or `user`: that role's messages only), `seed` (of the MinHash)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    threshold: float = Field(0.8, gt=0, lt=1)
    shingle: int = Field(10, ge=1, le=1000)
    num_perm: int = Field(128, ge=2, le=1024)
    scope: str = "conversation"
    seed: int = Field(0, ge=0)

    def model_post_init(self, context: Any) -> None:
        if self.scope not in SCOPES:
            raise InputError(f"near-duplicate scope must be one of {', '.join(SCOPES)}, not {self.scope!r}")

    @property
    def bands(self) -> tuple[int, int]:
        """(bands, values a band) of the LSH index."""
        return lsh_parameters(self.threshold, self.num_perm)


def lsh_parameters(threshold: float, num_perm: int) -> tuple[int, int]:
    """(b, r) with b * r <= num_perm whose S-curve 1 - (1 - J**r)**b best separates pairs below
    `threshold` from pairs above it (the least false-positive plus false-negative area, as
    datasketch chooses them).

    Example:
        >>> lsh_parameters(0.8, 128), lsh_parameters(0.5, 128)
        ((9, 13), (25, 5))
    """
    grid = np.linspace(0, 1, 201)
    best: tuple[float, int, int] | None = None
    for b in range(1, num_perm + 1):
        for r in range(1, num_perm // b + 1):
            caught = 1 - (1 - grid ** r) ** b
            below, above = grid <= threshold, grid >= threshold
            error = np.trapezoid(caught[below], grid[below]) + np.trapezoid(1 - caught[above], grid[above])
            if best is None or error < best[0]:
                best = (float(error), b, r)
    assert best is not None
    return best[1], best[2]


class NearDuplicates:
    """Band keys of rows, gathered in row order; `resolve` turns them into clusters."""

    def __init__(self, root: str, options: NearDupOptions | None = None) -> None:
        self.root = root
        self.options = options or NearDupOptions()
        self.b, self.r = self.options.bands
        self.rows, self.keys = array("q"), array("Q")
        self.dropped: list[int] = []  # rows after the first of their cluster (after `resolve`)

    def add(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """The rows (in order, after every row added before) and their duplicate texts."""
        self.add_texts(rows, [scoped_text(t, self.options.scope) for t in texts])

    def add_texts(self, rows: Sequence[int], texts: Sequence[str]) -> None:
        """The rows (in order, after every row added before) and the texts of their scope."""
        points, lengths = normalised(texts)
        kept = np.flatnonzero(lengths).tolist()  # (a row with no text in that scope is not compared)
        if not kept:
            return
        import rensa

        # (the rows left out hold no code point: `points` is already the kept rows' one after another)
        hashes, counts = window_hashes(points, lengths[kept], self.options.shingle, whole=True)
        offsets = np.zeros(len(kept) + 1, dtype=np.uint64)
        np.cumsum(counts, out=offsets[1:])
        digests = np.array(rensa.RMinHash.digest_matrix_from_flat_token_hashes(
            hashes, offsets, self.options.num_perm, self.options.seed).to_rows(), dtype=np.uint64)
        bands = digests[:, :self.b * self.r].reshape(len(kept), self.b, self.r)
        keys = np.zeros((len(kept), self.b), dtype=np.uint64)
        with np.errstate(over="ignore"):
            for j in range(self.r):
                keys = keys * _BAND_BASE + bands[:, :, j]
        self.rows.extend(rows[k] for k in kept)
        self.keys.frombytes(keys.tobytes())

    def take(self) -> tuple[array, array]:
        """The keys gathered so far, handed over (a worker process sends them to the resolving one)."""
        taken = self.rows, self.keys
        self.rows, self.keys = array("q"), array("Q")
        return taken

    def extend(self, rows: Sequence[int], keys: array) -> None:
        """Keys a worker took (`take`), its rows already counted in the whole file."""
        self.rows.extend(rows)
        self.keys.extend(keys)

    def resolve(self, findings: Findings) -> NearDupSummary:
        """Cluster every row added: a `fuzzy-duplicate` finding for each row after its cluster's first."""
        rows = np.frombuffer(self.rows, dtype=np.int64) if self.rows else np.zeros(0, dtype=np.int64)
        keys = np.frombuffer(self.keys, dtype=np.uint64).reshape(len(rows), self.b) if self.rows else \
            np.zeros((0, self.b), dtype=np.uint64)
        first = components(keys)
        later = np.flatnonzero(first != np.arange(len(rows)))
        size_of = np.bincount(first, minlength=len(rows))
        sizes = Counter(size_of[np.unique(first[later])].tolist())
        summary = NearDupSummary(**self.options.model_dump(exclude={"seed"}), bands=self.b, rows_per_band=self.r,
                                 rows_compared=len(rows), clusters=sum(sizes.values()),
                                 rows_in_clusters=sum(s * n for s, n in sizes.items()), dropped=len(later),
                                 sizes=dict(sorted(sizes.items())))
        self.dropped = rows[later].tolist()
        room = findings.room("fuzzy-duplicate")
        shown = later if room is None else later[:room]
        findings.add_counted("fuzzy-duplicate", len(later), [
            Issue.make(int(rows[k]), self.root, "fuzzy-duplicate",
                       f"near-duplicate of row {rows[first[k]]} (a cluster of {size_of[first[k]]} rows; MinHash LSH "
                       f"at similarity {self.options.threshold:g} over {self.options.shingle}-character shingles)")
            for k in shown.tolist()])
        self.rows, self.keys = array("q"), array("Q")
        return summary


def components(keys: np.ndarray) -> np.ndarray:
    """For each row (a row of band keys, in input order), the position of the first row of its
    cluster: rows sharing a key in any band column are linked, and linked rows are one cluster.

    Example:
        >>> components(np.array([[1, 7], [2, 8], [3, 7], [2, 9]], dtype=np.uint64)).tolist()
        [0, 1, 0, 1]
    """
    n = len(keys)
    labels = np.arange(n)
    if n == 0:
        return labels
    later, earlier = [], []
    for column in keys.T:
        order = np.argsort(column, kind="stable")  # equal keys keep input order: the first is the earliest
        ordered = column[order]
        starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
        group_first = order[np.repeat(starts, np.diff(np.r_[starts, n]))]
        linked = group_first != order
        later.append(order[linked])
        earlier.append(group_first[linked])
    a, b = np.concatenate(later), np.concatenate(earlier)
    while len(a):  # the least position of each component, by propagation and pointer jumping
        new = labels.copy()
        np.minimum.at(new, a, labels[b])
        np.minimum.at(new, b, labels[a])
        new = new[new]
        if np.array_equal(new, labels):
            break
        labels = new
    return labels

"""Duplicate rows found in bounded memory: each row against the first row with its hashes.

Rows arrive as (row, exact hash, folded hash) in row order, chunk by chunk. They wait in compact
arrays (24 bytes a row) until enough have gathered, then are resolved at once against the
first row of every distinct hash seen so far: a repeat becomes a `duplicate` or
`near-duplicate` finding, a new hash joins the table of firsts. Memory follows the number of
distinct rows, not the number of rows: 20 million copies of one row keep one first. Polars
resolves the large batches; the rows of a small file, resolved at once at its end, are resolved
with two dicts instead, sparing the command the 0.1-0.15 s of importing Polars.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from validation.report import Findings, Issue

BATCH = 1 << 20  # rows resolved at once, at least (and at least as many as the firsts kept)
SMALL = 200_000  # a first batch this small is resolved in Python


class Duplicates:
    """Collects row hashes and resolves them into `duplicate` / `near-duplicate` findings."""

    def __init__(self, root: str, *, batch: int = BATCH, small: int = SMALL) -> None:
        self.root = root  # the path findings point at: the row's messages field
        self.batch = batch
        self.small = small
        self.rows, self.exact, self.folded = array("q"), array("Q"), array("Q")
        # the first row of each exact hash, (row, exact, folded): a polars frame, or three arrays
        # after a batch resolved in Python
        self._firsts: Any = None

    def add(self, rows: Sequence[int], exact: Sequence[int], folded: Sequence[int]) -> None:
        """Hashes of rows that come after every row added before (or in the same chunk)."""
        self.rows.extend(rows)
        self.exact.extend(exact)
        self.folded.extend(folded)

    def take(self) -> tuple[array, array, array]:
        """The pending hashes, handed over (a worker process sends them to the resolving one)."""
        taken = self.rows, self.exact, self.folded
        self.rows, self.exact, self.folded = array("q"), array("Q"), array("Q")
        return taken

    def settle(self, findings: Findings) -> None:
        """Resolve the pending rows once enough have gathered (call between chunks)."""
        firsts = 0 if self._firsts is None else len(self._firsts[0]) if isinstance(self._firsts, tuple) \
            else self._firsts.height
        if len(self.rows) >= max(self.batch, firsts):
            self.resolve(findings)

    def resolve(self, findings: Findings) -> None:
        """Resolve every pending row: each repeat of an earlier row becomes a finding."""
        if not self.rows:
            return
        if self._firsts is None and len(self.rows) <= self.small:
            self._resolve_small(findings)
            return
        import polars as pl

        rows, exact, folded = self.take()
        schema = {"row": pl.Int64, "exact": pl.UInt64, "folded": pl.UInt64}
        if isinstance(self._firsts, tuple):  # resolved in Python so far
            self._firsts = pl.DataFrame(dict(zip(schema, self._firsts)), schema=schema)
        pending = pl.DataFrame({"row": rows, "exact": exact, "folded": folded}, schema=schema)
        del rows, exact, folded
        known = 0 if self._firsts is None else self._firsts.height
        frame = pending if self._firsts is None else pl.concat([self._firsts, pending])
        frame = frame.with_columns(first_exact=pl.col("row").min().over("exact"),
                                   first_folded=pl.col("row").min().over("folded"))
        # The earliest row of a folded group is the first of its exact hash too: firsts suffice.
        self._firsts = frame.filter(pl.col("row") == pl.col("first_exact")).select("row", "exact", "folded")
        new = frame.slice(known).select("row", "first_exact", "first_folded")
        exact_repeats = new.filter(pl.col("row") != pl.col("first_exact"))
        near_repeats = new.filter((pl.col("row") == pl.col("first_exact")) & (pl.col("row") != pl.col("first_folded")))
        self._report(findings, "duplicate", exact_repeats.select("row", "first_exact"), "same as row {}")
        self._report(findings, "near-duplicate", near_repeats.select("row", "first_folded"),
                     "same as row {} after case and whitespace folding")

    def _resolve_small(self, findings: Findings) -> None:
        """`resolve` of a first batch with two dicts, each hash to its first row (built in C by
        `dict(zip(...))` over the rows backwards); a file without repeats needs nothing more."""
        rows, exact, folded = self.take()
        first_exact = dict(zip(reversed(exact), reversed(rows)))
        first_folded = dict(zip(reversed(folded), reversed(rows)))
        repeats: list[tuple[int, int]] = []
        firsts = (rows, exact, folded)
        if len(first_exact) < len(rows):
            repeats = [(row, first) for row, e in zip(rows, exact) if (first := first_exact[e]) != row]
            kept = [(row, e, f) for row, e, f in zip(rows, exact, folded) if first_exact[e] == row]
            firsts = (array("q", [k[0] for k in kept]), array("Q", [k[1] for k in kept]),
                      array("Q", [k[2] for k in kept]))
        # a first of its exact hash that is not the first of its folded hash (the earliest row of a
        # folded hash is always the first of its exact hash)
        near = [] if len(first_folded) == len(first_exact) else \
            [(row, first) for row, f in zip(firsts[0], firsts[2]) if (first := first_folded[f]) != row]
        self._firsts = firsts
        self._report(findings, "duplicate", repeats, "same as row {}")
        self._report(findings, "near-duplicate", near, "same as row {} after case and whitespace folding")

    def _report(self, findings: Findings, code: str, repeats: Any, message: str) -> None:
        """`repeats`: (row, first row) pairs, a list or a polars frame."""
        room = findings.room(code)
        shown = repeats if room is None else repeats[:room]
        shown = shown if isinstance(shown, list) else shown.rows()
        findings.add_counted(code, len(repeats), [Issue.make(row, self.root, code, message.format(first))
                                                  for row, first in shown])

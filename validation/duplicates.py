"""Duplicate rows found in bounded memory: each row against the first row with its hashes.

Rows arrive as (row, exact hash, folded hash) in row order, chunk by chunk. They wait in compact
arrays (24 bytes a row) until enough have gathered, then are resolved at once against the
first row of every distinct hash seen so far: a repeat becomes a `duplicate` or
`near-duplicate` finding, a new hash joins the table of firsts. Memory follows the number of
distinct rows, not the number of rows: 20 million copies of one row keep one first.
"""

from __future__ import annotations

from array import array
from collections.abc import Sequence
from typing import Any

from validation.report import Findings, Issue

BATCH = 1 << 20  # rows resolved at once, at least (and at least as many as the firsts kept)


class Duplicates:
    """Collects row hashes and resolves them into `duplicate` / `near-duplicate` findings."""

    def __init__(self, root: str, *, batch: int = BATCH) -> None:
        self.root = root  # the path findings point at: the row's messages field
        self.batch = batch
        self.rows, self.exact, self.folded = array("q"), array("Q"), array("Q")
        self._firsts: Any = None  # polars frame (row, exact, folded): the first row of each exact hash

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
        if len(self.rows) >= max(self.batch, 0 if self._firsts is None else self._firsts.height):
            self.resolve(findings)

    def resolve(self, findings: Findings) -> None:
        """Resolve every pending row: each repeat of an earlier row becomes a finding."""
        import polars as pl

        if not self.rows:
            return
        rows, exact, folded = self.take()
        schema = {"row": pl.Int64, "exact": pl.UInt64, "folded": pl.UInt64}
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

    def _report(self, findings: Findings, code: str, repeats: Any, message: str) -> None:
        room = findings.room(code)
        shown = repeats if room is None else repeats.head(room)
        findings.add_counted(code, repeats.height, [Issue.make(row, self.root, code, message.format(first))
                                                    for row, first in shown.iter_rows()])

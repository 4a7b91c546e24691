"""Supervision counts: how many tokens each conversation renders and trains, gathered batch by
batch from a template's audits (`RowAudit`s), so that the audits themselves need not be kept.
`stats` counts trainable tokens with them; the supervision audit (templating/supervision/
dataset.py) sums them into its report's summary."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

from validation.checks.rules import RowAudit
from validation.summaries import SupervisionSummary


@dataclass
class Supervision:
    """Per-conversation supervision numbers, gathered batch by batch so that the audits (ids,
    masks, encodings) need not all be kept: rendered tokens, trained tokens, trained tokens
    before `limit` (all of them without one), plus what `summarise` counts."""

    limit: int | None = None
    lengths: list[int] = field(default_factory=list)
    trained: list[int] = field(default_factory=list)
    trained_before_limit: list[int] = field(default_factory=list)
    dropped: int = 0
    rows_with: Counter = field(default_factory=Counter)

    def add(self, audits: Sequence[RowAudit]) -> None:
        for a in audits:
            trained = sum(a.mask)
            self.lengths.append(len(a.mask))
            self.trained.append(trained)
            self.trained_before_limit.append(trained if self.limit is None else sum(a.mask[:self.limit]))
            self.dropped += a.dropped
            self.rows_with.update({f.code for f in a.findings})

    def extend(self, other: Supervision) -> Supervision:
        """This tally with `other`'s conversations after its own (the same limit); itself."""
        self.lengths += other.lengths
        self.trained += other.trained
        self.trained_before_limit += other.trained_before_limit
        self.dropped += other.dropped
        self.rows_with.update(other.rows_with)
        return self

    def summary(self) -> SupervisionSummary:
        return SupervisionSummary(rows=len(self.lengths), tokens=sum(self.lengths),
                                  supervised_tokens=sum(self.trained), rows_without_supervision=self.trained.count(0),
                                  rows_dropped=self.dropped, rows_with=dict(sorted(self.rows_with.items())))


def summarise(audits: Sequence[RowAudit]) -> SupervisionSummary:
    """Counts for reports and stats: tokens, supervised tokens, rows per finding code."""
    tally = Supervision()
    tally.add(audits)
    return tally.summary()

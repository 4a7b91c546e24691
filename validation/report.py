"""Validation results as values: one `Issue` per problem, one `Report` per dataset."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable, Iterable
from typing import IO, Any, Protocol

from pydantic import BaseModel, ConfigDict, PrivateAttr

from validation.codes import CATALOGUE, Severity, severity
from validation.summaries import (ContaminationSummary, NearDupSummary, ShardRows, SupervisionSummary,
                                  ValidationSummary)


class Console(Protocol):
    """Where reports are printed: a `rich.console.Console` (text with markup, tables)."""

    def print(self, *objects: Any, **options: Any) -> None: ...


class Issue(BaseModel):
    """One problem: where it is (`row`, `path` into the row; row 0: the dataset as a whole, as for
    KTO's label balance), what (`code`) and how bad."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int
    path: str
    code: str
    severity: Severity
    message: str

    @classmethod
    def make(cls, row: int, path: str, code: str, message: str, *, severity_: Severity | None = None) -> Issue:
        """An issue with the catalogue's severity for `code` unless one is given."""
        return cls(row=row, path=path, code=code, severity=severity_ or severity(code), message=message)


MAX_ISSUES = 1000  # issues of each code a command's report lists by default; the rest are counted


class Findings:
    """Issues as a check finds them: exact counts per code, the first `keep` issues of each code
    in memory (all of them with None), and with `stream` every issue written at once as one JSON
    line. Memory stays bounded however many rows repeat the same problem."""

    def __init__(self, keep: int | None = None, stream: IO[bytes] | None = None,
                 where: Callable[[Issue], Issue] | None = None) -> None:
        self.keep = keep
        self.stream = stream
        self.where = where  # an issue's path as the source names the field (columns renamed with --map)
        self.counts: Counter[str] = Counter()
        self.kept: list[Issue] = []
        self.labels: Counter[bool] = Counter()  # labels of valid unpaired rows: KTO's balance is the dataset's

    def room(self, code: str) -> int | None:
        """How many more issues of `code` are wanted as objects (None: all of them)."""
        return None if self.keep is None or self.stream is not None else max(0, self.keep - self.counts[code])

    def add(self, issues: Iterable[Issue]) -> None:
        for issue in issues:
            if self.where is not None:
                issue = self.where(issue)
            if self.keep is None or self.counts[issue.code] < self.keep:
                self.kept.append(issue)
            self.counts[issue.code] += 1
            if self.stream is not None:
                self.stream.write(json.dumps(issue.model_dump(), ensure_ascii=False).encode() + b"\n")

    def add_counted(self, code: str, total: int, first: list[Issue]) -> None:
        """`total` issues of `code`, of which `first` holds the first `room(code)` or more."""
        if total:
            before = self.counts[code]
            self.add(first)
            self.counts[code] = before + total

    def merge(self, other: Findings, offset: int) -> None:
        """Add the findings of a later part of the same file whose rows count from `offset` + 1."""
        self.labels.update(other.labels)
        for code, total in other.counts.items():
            room = self.room(code)
            first = [i for i in other.kept if i.code == code][:room]
            self.add_counted(code, total, [i.model_copy(update={"row": i.row + offset}) for i in first])

    def replay(self, path: str, offset: int, *, remove: bool = True) -> None:
        """Add every finding spooled as JSON lines to `path` (rows counted from `offset` + 1); removes the
        file unless told not to."""
        try:
            with open(path, "rb") as spooled:
                for line in spooled:
                    issue = Issue.model_validate_json(line)
                    self.add([issue.model_copy(update={"row": issue.row + offset})])
        finally:
            if remove:
                os.unlink(path)

    def report(self, report: Report) -> None:
        """Put the kept issues (in row order), the counts and how many were left out in `report`."""
        self.kept.sort(key=lambda issue: issue.row)
        report.issues = self.kept
        report.issues_left_out = sum(self.counts.values()) - len(self.kept)
        report._counts = dict(self.counts.most_common())


class Fix(BaseModel):
    """One change `--fix` made: where (`row`, `path` into the row as read) and what."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    row: int
    path: str
    code: str
    message: str


class Report(BaseModel):
    """The outcome of validating one dataset; `model_dump()` is the `--json` object."""

    model_config = ConfigDict(extra="forbid")

    path: str
    format: str
    rows: int = 0
    valid: int = 0
    invalid: int = 0
    issues: list[Issue] = []
    template: str | None = None
    max_length: int | None = None
    length_unit: str | None = None
    summary: SupervisionSummary | None = None  # counts of `audit` (supervised tokens, rows per code)
    fixes: list[Fix] | None = None  # with --fix: every change, per row
    issues_left_out: int = 0  # issues counted but not listed (--max-issues)
    near_duplicates: NearDupSummary | None = None  # with --near-dup: the clusters found
    contamination: ContaminationSummary | None = None  # with --decontaminate: the overlap found
    shards: list[ShardRows] | None = None  # a sharded run (--executor): where each shard's rows are numbered
    _counts: dict[str, int] | None = PrivateAttr(default=None)  # exact counts when issues were left out

    @property
    def ok(self) -> bool:
        """True when no row has an error (warnings allowed)."""
        return self.invalid == 0

    def where(self, row: int) -> str:
        """Row `row` as the report lists it: with shards, the shard and its line too."""
        if not row or not self.shards:
            return str(row) if row else "all"
        shard = next(s for s in reversed(self.shards) if s.first_row <= row)
        name = os.path.basename(shard.path.partition("::")[0])  # (a chained URL: tar://train/a.jsonl::file:///x.tar)
        return f"{row} ({name}:{row - shard.first_row + 1})"

    def counts(self) -> dict[str, int]:
        """Number of issues per code, most frequent first (counting those left out)."""
        return self._counts if self._counts is not None else dict(Counter(i.code for i in self.issues).most_common())

    def totals(self) -> ValidationSummary:
        """The counts, typed: rows, valid, invalid, issues (listed and left out), per code."""
        return ValidationSummary(path=self.path, format=self.format, rows=self.rows, valid=self.valid,
                                 invalid=self.invalid, issues=len(self.issues) + self.issues_left_out,
                                 issues_left_out=self.issues_left_out, counts=self.counts())

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON object, plus per-code counts under `counts`."""
        data = self.model_dump(mode="json")
        for name in ("near_duplicates", "contamination", "shards"):  # present when asked for
            if data[name] is None:
                del data[name]
        return {**data, "counts": self.counts()}


def render_report(report: Report, console: Console, *, first: int = 5) -> None:
    """Print a human report with rich: a summary line, then one table per code."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    # Paths, messages and template names hold the user's text: never read as rich markup.
    style = "green" if report.ok else "red"
    totals = report.totals()
    console.print(f"[bold]{escape(totals.path)}[/] ({totals.format}): {totals.rows} rows, "
                  f"[{style}]{totals.valid} valid, {totals.invalid} invalid[/], {totals.issues} issues")
    if report.shards:
        console.print(f"{len(report.shards)} shards, rows numbered across them in order (a row's shard and line "
                      "beside it; --json: shards)", markup=False, highlight=False)
    if report.issues_left_out:
        console.print(f"{report.issues_left_out} issues counted but not listed (--max-issues keeps the first of "
                      "each code; --issues-jsonl writes them all)")
    if report.fixes is not None:
        rows = len({f.row for f in report.fixes})
        counts = Counter(f.code for f in report.fixes)
        console.print(f"--fix: {len(report.fixes)} changes in {rows} rows"
                      + (" (" + ", ".join(f"{c} {n}" for c, n in counts.most_common()) + ")" if counts else ""))
        for f in report.fixes[:first]:
            console.print(f"  row {f.row}, {f.path}: {f.code}: {f.message}", markup=False, highlight=False)
        if len(report.fixes) > first:
            console.print(f"  … {len(report.fixes) - first} more (--json lists them all)")
    if report.summary is not None:
        s = report.summary
        share = s.supervised_tokens / s.tokens if s.tokens else 0.0
        console.print(f"supervised: {s.supervised_tokens:,} of {s.tokens:,} tokens ({share:.1%}) under "
                      f"template {escape(str(report.template))}; {s.rows_without_supervision} rows supervise "
                      f"nothing; {s.rows_dropped} rows left out of training")
    if (near := report.near_duplicates) is not None:
        console.print(f"near-duplicates: {near.clusters} clusters holding {near.rows_in_clusters} of "
                      f"{near.rows_compared} rows; {near.dropped} rows after their cluster's first (MinHash LSH "
                      f"at {near.threshold:g}: {near.bands} bands of {near.rows_per_band}, {near.shingle}-character "
                      f"shingles of the {near.scope})", markup=False, highlight=False)
    if (found := report.contamination) is not None:
        console.print(f"benchmark {found.benchmark}: {found.contaminated} rows share {found.ngram} words or more "
                      f"with {found.benchmark_rows_hit} of its {found.benchmark_rows} rows"
                      + (f" ({found.short_texts} of its texts are under {found.ngram} words: they cannot match)"
                         if found.short_texts else ""), markup=False, highlight=False)
    counts = report.counts()
    by_code: dict[str, list[Issue]] = {code: [] for code in counts}
    for issue in report.issues:
        by_code.setdefault(issue.code, []).append(issue)
    level = {code: issues[0].severity if issues else severity(code) for code, issues in by_code.items()}
    for code, issues in sorted(by_code.items(), key=lambda kv: (level[kv[0]] != "error", -counts.get(kv[0], 0))):
        total = counts.get(code, len(issues))
        colour = "red" if level[code] == "error" else "yellow"
        table = Table(title=f"[{colour}]{code}[/] ({level[code]}, {total}): "
                            f"{CATALOGUE[code].meaning}", title_justify="left", show_edge=False)
        table.add_column("row", justify="right")
        table.add_column("path", overflow="fold")
        table.add_column("message", overflow="fold")
        for issue in issues[:first]:
            table.add_row(Text(report.where(issue.row)), Text(issue.path), Text(issue.message))
        if total > min(first, len(issues)):
            table.add_row("…", "", f"{total - min(first, len(issues))} more")
        console.print(table)
        console.print(Text(f"how to fix: {CATALOGUE[code].fix}", style="dim"))



"""Validation results as values: one `Issue` per problem, one `Report` per dataset."""

from __future__ import annotations

from collections import Counter
from typing import Any

from pydantic import BaseModel, ConfigDict

from validation.codes import CATALOGUE, Severity, severity


class Issue(BaseModel):
    """One problem: where it is (`row`, `path` into the row), what (`code`) and how bad."""

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
    summary: dict[str, Any] | None = None  # counts of `audit` (supervised tokens, rows per code)
    fixes: list[Fix] | None = None  # with --fix: every change, per row

    @property
    def ok(self) -> bool:
        """True when no row has an error (warnings allowed)."""
        return self.invalid == 0

    def counts(self) -> dict[str, int]:
        """Number of issues per code, most frequent first."""
        return dict(Counter(i.code for i in self.issues).most_common())

    def to_json(self) -> dict[str, Any]:
        """The contract's JSON object, plus per-code counts under `counts`."""
        return {**self.model_dump(), "counts": self.counts()}


def render(report: Report, console: Any, *, first: int = 5) -> None:
    """Print a human report with rich: a summary line, then one table per code."""
    from rich.markup import escape
    from rich.table import Table
    from rich.text import Text

    # Paths, messages and template names hold the user's text: never read as rich markup.
    style = "green" if report.ok else "red"
    console.print(f"[bold]{escape(report.path)}[/] ({report.format}): {report.rows} rows, "
                  f"[{style}]{report.valid} valid, {report.invalid} invalid[/], {len(report.issues)} issues")
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
        share = s["supervised_tokens"] / s["tokens"] if s["tokens"] else 0.0
        console.print(f"supervised: {s['supervised_tokens']:,} of {s['tokens']:,} tokens ({share:.1%}) under "
                      f"template {escape(str(report.template))}; {s['rows_without_supervision']} rows supervise "
                      f"nothing; {s['rows_dropped']} rows left out of training")
    by_code: dict[str, list[Issue]] = {}
    for issue in report.issues:
        by_code.setdefault(issue.code, []).append(issue)
    for code, issues in sorted(by_code.items(), key=lambda kv: (kv[1][0].severity != "error", -len(kv[1]))):
        colour = "red" if issues[0].severity == "error" else "yellow"
        table = Table(title=f"[{colour}]{code}[/] ({issues[0].severity}, {len(issues)}): "
                            f"{CATALOGUE[code].meaning}", title_justify="left", show_edge=False)
        table.add_column("row", justify="right")
        table.add_column("path")
        table.add_column("message", overflow="fold")
        for issue in issues[:first]:
            table.add_row(str(issue.row), Text(issue.path), Text(issue.message))
        if len(issues) > first:
            table.add_row("…", "", f"{len(issues) - first} more")
        console.print(table)

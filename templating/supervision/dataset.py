"""`audit`: the supervision audit of a dataset, as a validation report (`instructkit audit`; the
gate `train` runs after validation).

Every row is validated first (with the template's rules); each valid row then goes through the
template's audit hook (`TemplateRules.audit`, which `templating.get_template(name).rules` carries:
the real tokenizer and template; masks, end-of-turn, truncation, BOS, forged special tokens).
Findings become `Issue`s with the row's own paths, and the counts go into `Report.summary`.
"""

from __future__ import annotations

from dataclasses import replace

from collections.abc import Sequence
import json
import os
from typing import Any

from validation.checks.images import ImageChecks
from validation.readers.formats import Format
from validation.errors import InputError
from validation.outputs import Paths, open_for_writing
from validation.report import Issue, Report
from validation.checks.rules import Finding, RowAudit, HasRules, TemplateRules
from validation.checks.scan import Scanner
from validation.readers.source import Dataset, Source, dataset_of
from validation.statistics.supervision import summarise
from validation.progress import progress_bar
from validation.options import check_max_length, check_tokenizer, resolve_rules, response_schema_of
from validation.validate import conversation_of
from validation.tokens import Tokenizer

BATCH = 2048


def audit(source: Source, *, tokenizer: Tokenizer, template: TemplateRules | HasRules, max_length: int | None = None,
          over_length: str = "truncate", format: str | None = None, column: str | None = None,
          split: str = "train", progress: bool = False, train_on: str = "all",
          max_prompt_length: int | None = None) -> Report:
    """Audit what training on `source` supervises; returns the report (summary under `.summary`).

    Raises:
        InputError: the source cannot be read, or the template has no audit (rules without a template).
    """
    return audit_rows(source, tokenizer=tokenizer, template=template, max_length=max_length,
                      over_length=over_length, format=format, column=column, split=split, progress=progress,
                      train_on=train_on, max_prompt_length=max_prompt_length)[0]


def audit_rows(source: Source, *, tokenizer: Tokenizer, template: TemplateRules | HasRules,
               max_length: int | None = None, over_length: str = "truncate", format: str | None = None,
               column: str | None = None, split: str = "train", progress: bool = False, response_schema: Any = None,
               response_scope: str = "last", train_on: str = "all",
               max_prompt_length: int | None = None) -> tuple[Report, list[tuple[int, RowAudit]]]:
    """`audit`, plus each valid row's audit as (row, audit): its ids, mask and the messages
    training sees (what `training` prepares from, so the audit is of exactly what is trained).
    `response_schema`: rows whose replies fail it are invalid here too (as in `validate`);
    `train_on`: "all" assistant turns train, or the "last" one only (a message's `train: true|false`
    decides for its turn either way); `max_prompt_length`: preference rows' prompts keep their last
    that many tokens (as `train` cuts them)."""
    rules, max_length, tokenizer = resolve_rules(template), check_max_length(max_length), check_tokenizer(tokenizer)
    response = response_schema_of(response_schema, response_scope)
    if rules is None or rules.audit is None:
        raise InputError(f"template {getattr(rules, 'name', template)}: no audit available (pass the template "
                         "itself: templating.get_template(name) carries one)")
    with dataset_of(source, format=format, column=column, split=split) as data, \
            progress_bar(data, progress, "auditing") as advance:
        return _audit(data, rules, tokenizer, max_length, over_length, data.records(precise=True, progress=advance),
                      response, train_on, max_prompt_length)


def _audit(data: Dataset, rules: TemplateRules, tokenizer: Tokenizer, max_length: int | None, over_length: str,
           records: Any, response: Any = None, train_on: str = "all",
           max_prompt_length: int | None = None) -> tuple[Report, list[tuple[int, RowAudit]]]:
    fmt = data.format
    report = Report(path=data.name, format=fmt.name, template=rules.name, max_length=max_length,
                    length_unit="tokens")
    issues: list[Issue] = []
    audits: list[tuple[int, RowAudit]] = []
    pending: list[tuple[int, dict[str, Any]]] = []
    rows = 0

    def flush() -> None:
        if fmt.preference:  # pairs: what DPO / KTO compare (templating/supervision/pairs.py)
            from validation.checks.pairs import read_pair

            if rules.audit_pairs is None:
                raise InputError(f"template {rules.name}: no audit of preference pairs available")
            # the scan found no error in these rows: their values, without checking them again
            values = [read_pair(fmt.name, row_data, row, rules)[0] for row, row_data in pending]
            results = rules.audit_pairs(values, tokenizer, max_length, max_prompt_length)
        else:
            results = rules.audit([conversation_of(fmt, row_data) for _, row_data in pending], tokenizer, max_length,
                                  over_length, train_on)
        results = [replace(result, row=row) for (row, _), result in zip(pending, results)]
        for (row, row_data), result in zip(pending, results):
            issues.extend(Issue.make(row, source_path(fmt, row_data, finding), finding.code, finding.text)
                          for finding in result.findings)
        audits.extend((row, result) for (row, _), result in zip(pending, results))
        pending.clear()

    images = ImageChecks.of(data)
    for outcome in Scanner(fmt, rules=rules, duplicates=False, response=response, images=images).scan(records):
        rows += 1
        issues += outcome.issues
        if outcome.valid:
            pending.append((outcome.record.row, outcome.record.data))  # type: ignore[arg-type]
            if len(pending) >= BATCH:
                flush()
    if pending:
        flush()
    issues.sort(key=lambda issue: issue.row)
    invalid = {i.row for i in issues if i.severity == "error"}
    issues = [data.in_source(issue) for issue in issues] if data.renamed else issues
    report.rows, report.invalid, report.valid, report.issues = rows, len(invalid), rows - len(invalid), issues
    report.summary = summarise([a for _, a in audits])
    return report, audits


def source_path(fmt: Format, data: dict[str, Any], finding: Finding) -> str:
    """Where `finding` is in the source row: its message's field, or the row's messages (a
    preference row's part: `chosen`, `rejected`, ...)."""
    if finding.message is None:
        return finding.field or fmt.root
    return fmt.path(data, finding.message, finding.field or "")


def write_per_row(path: str | os.PathLike[str], audited: Sequence[tuple[int, RowAudit]],
                  max_length: int | None, *, inputs: Paths = ()) -> None:
    """One JSON line per audited row, in input order (never over one of `inputs`)."""
    cut = slice(None, max_length)
    with open_for_writing(path, text=True, inputs=inputs) as out:
        for row, a in audited:
            out.write(json.dumps({"row": row, "tokens": len(a.ids), "supervised_tokens": sum(a.mask),
                                  "supervised_after_truncation": 0 if a.dropped else sum(a.mask[cut]),
                                  "dropped": a.dropped, "codes": sorted({f.code for f in a.findings})}) + "\n")

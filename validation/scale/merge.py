"""The merged report of a sharded run: every unit's findings in row order, the duplicates each hash
range resolved, the corpus checks over all rows — the same `Report` `validate` returns for the
shards joined into one file."""

from __future__ import annotations

import json
import pickle
from array import array
from contextlib import ExitStack
from pathlib import Path

from validation.checks.scan import Scanner
from validation.errors import InputError
from validation.outputs import open_for_writing
from validation.report import Findings, Report
from validation.summaries import ShardRows
from validation.scale.plan import Plan
from validation.scale.units import Checks, load_result, offsets, put

REPORT = "report.json"


def load_plan(folder: Path) -> Plan:
    return Plan.from_json((folder / "plan.json").read_text(encoding="utf-8"))


def merge(folder: Path, checks: Checks, name: str, issues_jsonl: str | None = None) -> Report:
    """The report of the run in `folder` (its units checked, its duplicates resolved); writes it
    (`report.json`) with the invalid rows (`invalid.bin`, for --write-clean), and with
    `issues_jsonl` every issue."""
    plan = load_plan(folder)
    starts = offsets(folder, plan.units)
    fmt = checks.fmt()
    near = None
    if checks.near_dup is not None:
        from validation.checks.near_duplicates import NearDuplicates

        near = NearDuplicates(fmt.root, checks.near_dup)
    scanner = Scanner(fmt, duplicates=False, near=near, benchmark=checks.benchmark)
    invalid = array("q")
    rows = 0
    with ExitStack() as stack:
        stream = None if issues_jsonl is None else stack.enter_context(open_for_writing(issues_jsonl, text=False))
        findings = Findings(checks.max_issues, stream)
        for unit, offset in zip(plan.units, starts):
            result = load_result(folder, unit)
            if checks.spool:
                findings.replay(str(folder / "units" / f"{unit.index:06d}.issues.jsonl"), offset, remove=False)
                findings.labels.update(result.findings.labels)
            else:
                findings.merge(result.findings, offset)
            invalid.extend(r + offset for r in result.invalid)
            scanner.add_corpus(result.corpus, offset)
            rows += result.records
        _add_duplicates(findings, folder, plan.ranges)
        scanner.finish(findings)  # near-duplicates and the balance of KTO's labels, over every row
    if near is not None:
        invalid = array("q", sorted([*invalid, *near.dropped]))
    report = Report(path=name, format=fmt.name, template=checks.template_name(), max_length=checks.max_length,
                    length_unit=None if checks.max_length is None else
                    ("tokens" if checks.tokenizer is not None else "characters"))
    report.invalid = len(invalid)
    report.near_duplicates = scanner.near_summary
    if checks.benchmark is not None:
        report.contamination = checks.benchmark.summary(findings.counts["benchmark-overlap"])
    report.shards = _shards(plan, starts)
    findings.report(report)
    report.rows, report.valid = rows, rows - report.invalid
    put(folder / "invalid.bin", invalid.tobytes())
    put(folder / REPORT, json.dumps(report.to_json(), ensure_ascii=False).encode())
    return report


def _shards(plan: Plan, starts: list[int]) -> list[ShardRows]:
    """Where each shard's rows are numbered: from its first unit's offset, as many lines as its units hold."""
    first: dict[int, int] = {}
    lines: dict[int, int] = {}
    for unit, start, end in zip(plan.units, starts, starts[1:]):
        first.setdefault(unit.shard, start + 1)
        lines[unit.shard] = lines.get(unit.shard, 0) + end - start
    return [ShardRows(path=path, first_row=first[n], lines=lines[n]) for n, path in enumerate(plan.shards)]


def _add_duplicates(findings: Findings, folder: Path, ranges: int) -> None:
    """The `duplicate` and `near-duplicate` findings of every hash range: each code's issues in row order,
    as one run resolving them all would list them; with every issue wanted, each range's spool copied."""
    parts: list[Findings] = []
    for r in range(ranges):
        with open(folder / "duplicates" / f"{r:04d}.pkl", "rb") as f:
            parts.append(pickle.load(f))
    stream, findings.stream = findings.stream, None
    for code in sorted({code for part in parts for code in part.counts}):
        first = sorted((i for part in parts for i in part.kept if i.code == code), key=lambda i: i.row)
        room = findings.room(code)
        findings.add_counted(code, sum(part.counts[code] for part in parts), first if room is None else first[:room])
    findings.stream = stream
    if stream is not None:
        for r in range(ranges):
            stream.write((folder / "duplicates" / f"{r:04d}.issues.jsonl").read_bytes())


def read_report(path: Path) -> Report:
    """A report a stage wrote (`Report.to_json`), its exact counts per code kept."""
    data = json.loads(path.read_bytes())
    counts = data.pop("counts")
    report = Report.model_validate(data)
    report._counts = counts
    return report


def load_report(folder: Path) -> Report:
    """The report `merge` wrote."""
    report = read_report(folder / REPORT)
    if not report.rows:
        raise InputError(f"{report.path}: no rows to check (the dataset is empty)")
    return report

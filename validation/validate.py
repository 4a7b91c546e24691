"""The validation entry points scripts use: `validate`, `read`, `to_dataset`.

A source is a path (JSONL, JSON array, Parquet, CSV, `save_to_disk` folder), a hub id, or an
iterable of row dicts.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING, Any

from validation.checks.images import ImageChecks
from validation.checks.messages import with_call_content
from validation.readers.decode import decode_row
from validation.errors import InvalidRow
from validation.readers.formats import Format
from validation.errors import InputError
from validation.readers.columns import Columns
from validation.readers.files import BOM, Record, held_suffix, lines_of, readable
from validation.outputs import open_for_writing, write_rows
from validation.models import Conversation, Message
from validation.report import Findings, Fix, Issue, Report
from validation.checks.rules import HasRules, TemplateRules
from validation.checks.parallel import default_workers, scan_jsonl
from validation.checks.scan import Scanner
from validation.options import check_max_length, check_tokenizer, resolve_rules, response_schema_of
from validation.progress import progress_bar
from validation.readers.source import Dataset, Source, dataset_of
from validation.tokens import Tokenizer

if TYPE_CHECKING:  # (numpy: imported only when the corpus checks are asked for)
    from validation.checks.contamination import Benchmark
    from validation.checks.near_duplicates import NearDupOptions


def validate(source: Source, *, format: str | None = None, column: str | None = None,
             template: TemplateRules | HasRules | None = None, max_length: int | None = None,
             tokenizer: Tokenizer | None = None, split: str = "train",
             write_clean: str | os.PathLike[str] | None = None, progress: bool = False, fix: bool = False,
             max_issues: int | None = None, issues_jsonl: str | os.PathLike[str] | None = None,
             response_schema: str | os.PathLike[str] | dict[str, Any] | None = None,
             response_scope: str = "last", near_dup: NearDupOptions | bool | None = None,
             benchmark: Benchmark | None = None, reward_columns: dict[str, str] | None = None,
             image_root: str | os.PathLike[str] | None = None) -> Report:
    """Check every row of `source`; returns the `Report` (never raises for bad rows).

    With `fix`, the mechanical repairs of `validation.checks.fix` are applied first and listed in
    `report.fixes`; the checks (and `write_clean`) see the fixed rows. `max_issues` keeps only
    the first that many issues of each code in the report (the counts stay exact and
    `issues_left_out` says how many were not listed); `issues_jsonl` writes every issue to that
    file, one JSON object a line, as it is found. `response_schema` (a JSON Schema, or the path of
    a file holding one): the last assistant reply of each row (`response_scope="all"`: every
    reply) must be JSON that validates against it. Calls are checked against the row's `tools`
    in any case (validation/checks/tools.py).

    Corpus checks: `near_dup` (True or `NearDupOptions`) clusters near-duplicate rows by MinHash
    and makes each row after its cluster's first a `fuzzy-duplicate` error; `benchmark` (see
    `Benchmark.load`) makes each row that shares a run of words with it a `benchmark-overlap`
    error. Either way `write_clean` drops those rows, and the report says what was found
    (`near_duplicates`, `contamination`). `reward_columns` ({name: JSON type}, `any` for any type):
    fields each row must hold beside its messages, as GRPO's reward functions read them.
    `image_root`: the folder relative image paths are read from (default: the dataset's `image_root`,
    its folder unless it was opened with another).

    Raises:
        InputError: the source cannot be used at all (missing, empty, unknown format, hub offline).

    Example:
        >>> report = validate([{"question": "1+1?", "answer": "2"}, {"question": "", "answer": "0"}])
        >>> report.valid, [(i.row, i.path, i.code) for i in report.issues]
        (1, [(2, 'question', 'empty-content')])
    """
    rules, max_length = resolve_rules(template), check_max_length(max_length)
    response = response_schema_of(response_schema, response_scope)
    if max_issues is not None and (isinstance(max_issues, bool) or not isinstance(max_issues, int) or max_issues < 0):
        raise InputError(f"max_issues must be a whole number >= 0, not {max_issues!r}")
    with ExitStack() as stack:
        data = stack.enter_context(dataset_of(source, format=format, column=column, split=split))
        # JSONL, compressed or not, is checked as raw lines; --fix needs records.
        lines = not fix and data.kind == "jsonl" and not data.renamed
        advance = stack.enter_context(progress_bar(data, progress))
        stream = None if issues_jsonl is None else \
            stack.enter_context(open_for_writing(issues_jsonl, text=False, inputs=[data.path, response_schema]))
        findings = Findings(max_issues, stream, data.in_source if data.renamed else None)
        near = None
        if near_dup is not None and near_dup is not False:
            from validation.checks.near_duplicates import NearDuplicates

            near = NearDuplicates(data.format.root, None if near_dup is True else near_dup)
        scanner = Scanner(data.format, rules=rules, max_length=max_length, tokenizer=check_tokenizer(tokenizer),
                          response=response, near=near, benchmark=benchmark, required=reward_columns,
                          images=ImageChecks.of(data, image_root))
        report = Report(path=data.name, format=data.format.name, template=rules.name if rules else None,
                        max_length=max_length, length_unit=None if max_length is None else
                        ("tokens" if tokenizer is not None else "characters"))
        if lines:
            rows, invalid = scan_jsonl(data, scanner, findings, workers=default_workers(), progress=advance)
            _refuse_empty(rows, data)
            scanner.finish(findings)  # (near-duplicates are known only now)
            if near is not None:
                invalid = sorted([*invalid, *near.dropped])
            if write_clean is not None:
                _write_clean_lines(data, Path(write_clean), invalid)
            report.invalid = len(invalid)
        else:
            # --fix re-serialises changed rows: decode precisely so that no number changes on the way.
            records = data.records(precise=fix, progress=advance)
            if fix:
                report.fixes = []
                records = fixed_records(records, data.format, rules, report.fixes)
            # rows dropped as near-duplicates are known only at the end: the clean rows are written by a
            # second pass then
            rows, invalid = _scan_sequential(scanner, records, findings, None if near else write_clean, data)
            scanner.finish(findings)
            if near is not None:
                invalid = sorted([*invalid, *near.dropped])
                if write_clean is not None:
                    again = data.records(precise=fix)
                    _write_clean_records(fixed_records(again, data.format, rules, []) if fix else again,
                                         write_clean, data, invalid)
            report.invalid = len(invalid)
            if fix and data.columns:  # paths into the row as the source names its fields
                report.fixes = [f.model_copy(update={"path": data.columns.source_path(f.path)}) for f in report.fixes]
        report.near_duplicates = scanner.near_summary
        if benchmark is not None:
            report.contamination = benchmark.summary(findings.counts["benchmark-overlap"])
    findings.report(report)
    report.rows, report.valid = rows, rows - report.invalid
    return report


def fixed_records(records: Iterator[Record], fmt: Format, rules: TemplateRules | None,
                  fixes: list[Fix]) -> Iterator[Record]:
    """`records` with `--fix` applied; every change is appended to `fixes`. A changed row loses
    its raw bytes, so it is written re-serialised; unchanged rows stay byte-identical."""
    from validation.checks.fix import Fixer

    fixer = Fixer(fmt, rules)
    for record in records:
        if isinstance(record.data, dict):
            data, changes = fixer.fix(record.data)
            if changes:
                fixes.extend(Fix(row=record.row, path=p, code=c, message=m) for p, c, m in changes)
                record = Record(record.row, data)
        yield record


def _scan_sequential(scanner: Scanner, records: Iterator[Record], findings: Findings,
                     write_clean: str | os.PathLike[str] | None, data: Dataset) -> tuple[int, list[int]]:
    """(rows, invalid rows in order) of `records`; their issues go into `findings`."""
    rows, invalid = 0, []
    with CleanWriter(write_clean, data.columns) as clean:
        for outcome in scanner.scan(records, findings):
            rows += 1
            findings.add(outcome.issues)
            if outcome.valid:
                clean.add(outcome.record)
            else:
                invalid.append(outcome.record.row)
        _refuse_empty(rows, data)  # (inside the block: no clean file is written)
    return rows, invalid


def _write_clean_records(records: Iterator[Record], out: str | os.PathLike[str], data: Dataset,
                         invalid: Sequence[int]) -> None:
    """The records whose rows are not in `invalid` (in order), written as --write-clean writes them."""
    bad = set(invalid)
    with CleanWriter(out, data.columns) as clean:
        for record in records:
            if record.row not in bad and not isinstance(record.data, Issue):
                clean.add(record)


def _refuse_empty(rows: int, data: Dataset) -> None:
    """An empty dataset passes every check: InputError instead, so that no training gate passes it."""
    if rows == 0:
        raise InputError(f"{data.name}: no rows to check (the dataset is empty)")


def _write_clean_lines(data: Dataset, out: Path, invalid: Sequence[int]) -> None:
    """Every non-blank line whose row is not in `invalid` (rows in order), in order: copied byte
    for byte into a JSONL file, decoded precisely (no number changes) for the other kinds
    `write_rows` writes."""
    bad = iter(invalid)
    next_bad = next(bad, None)
    with readable(data.path), data.stream() as src, CleanWriter(out) as clean:
        for row, line in enumerate(lines_of(src, data.max_row_bytes), start=1):
            if row == 1:
                line = line.removeprefix(BOM)
            if row == next_bad:
                next_bad = next(bad, None)
            elif not line.isspace():
                clean.add(Record(row, decode_row(line, row, precise=True) if clean.needs_data else {}, line))


class CleanWriter:
    """Writes valid rows unchanged: raw lines for JSONL, the row objects otherwise."""

    def __init__(self, path: str | os.PathLike[str] | None, columns: Columns | None = None) -> None:
        self.path = Path(path) if path is not None else None
        self.columns = columns  # rows read with fields renamed (--map) are written with the source's names
        self._file: Any = None
        self._open = ExitStack()  # the output file, kept open across `add` calls
        self._rows: list[dict[str, Any]] = []
        # Raw JSONL lines are copied as they are; other kinds are written from the row objects.
        self.lines = self.path is not None and held_suffix(self.path) in (".jsonl", ".ndjson")
        self.needs_data = self.path is not None and not self.lines

    def __enter__(self) -> CleanWriter:
        return self

    def add(self, record: Record) -> None:
        if self.path is None:
            return
        if self.columns and isinstance(record.data, dict):
            record = Record(record.row, self.columns.restore(record.data), record.raw)
        if self.lines and (record.raw is not None or isinstance(record.data, dict)):
            if self._file is None:
                self._file = self._open.enter_context(open_for_writing(self.path, text=False))
            raw = record.raw if record.raw is not None else \
                json.dumps(record.data, ensure_ascii=False).encode()  # as write_rows writes
            self._file.write(raw if raw.endswith(b"\n") else raw + b"\n")
        elif isinstance(record.data, dict):
            self._rows.append(record.data)

    def __exit__(self, kind: Any, error: Any, trace: Any) -> None:
        if self._file is not None:  # kept only when no error ended the block (atomic_path)
            self._open.__exit__(kind, error, trace)
        elif self.path is not None and kind is None:
            write_rows(self.path, self._rows)


def conversation_of(fmt: Format, data: dict[str, Any]) -> Conversation:
    """The canonical `Conversation` of a row that passed validation."""
    raw_messages, metadata = fmt.split(data)
    messages = [Message.model_validate(with_call_content(m)) for m in raw_messages]
    return Conversation(messages=messages, metadata=metadata)


def read(source: Source, *, format: str | None = None, column: str | None = None, split: str = "train",
         errors: str = "raise") -> Iterator[Conversation]:
    """Yield each row as a `Conversation`; rows with errors raise `InvalidRow` or are skipped.

    Example:
        >>> [c.messages[1].content for c in read([{"question": "1+1?", "answer": "2"}])]
        ['2']
    """
    if errors not in ("raise", "skip"):
        raise ValueError(f"errors must be 'raise' or 'skip', got {errors!r}")
    with dataset_of(source, format=format, column=column, split=split) as data:
        for outcome in Scanner(data.format, duplicates=False,
                               images=ImageChecks.of(data)).scan(data.records(precise=True)):
            if outcome.valid:
                yield conversation_of(data.format, outcome.record.data)  # type: ignore[arg-type]
            elif errors == "raise":
                raise InvalidRow([i for i in outcome.issues if i.severity == "error"])


def to_dataset(source: Source, **options: Any) -> Any:
    """The valid conversations as a `datasets.Dataset` with a `messages` column (+ metadata columns).

    Rows with errors are skipped; run `validate` first to see them.
    """
    import datasets

    rows = [{"messages": [m.to_dict() for m in c.messages], **c.metadata}
            for c in read(source, errors="skip", **options)]
    return datasets.Dataset.from_list(rows)

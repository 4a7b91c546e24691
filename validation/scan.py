"""Check rows chunk by chunk: raw lines proven clean in C, the rest in Python.

Raw JSONL lines of list-of-messages formats first meet `rowscan.Prover`, which clears clean
rows in one pass over their bytes and hashes them. Decoded rows meet `fast_clean`, which clears
well-formed rows with C-speed builtins; once per chunk, Polars scans their texts for control
characters and special tokens. Rows not cleared go through the precise `check_messages`.
Duplicates are resolved at the end over all hashes at once, which is also what lets a large
JSONL file be split across processes.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from validation.checks import check_messages, dup_text, fast_clean, suspects
from validation.formats import Format, FormatError
from validation.decode import decode_row
from validation.io import BOM, Record
from validation.models import ROLES
from validation.report import Issue
from validation.rowscan import Prover, fingerprints
from validation.rules import TemplateRules
from validation.tokens import backend_of, count_tokens

CHUNK_ROWS = 8192
PARALLEL_MIN_BYTES = 32 << 20


class Outcome:
    """One row's result: its record, its issues, and whether it has no error."""

    __slots__ = ("record", "issues", "valid")

    def __init__(self, record: Record, issues: list[Issue]) -> None:
        self.record = record
        self.issues = issues
        self.valid = not issues or not any(i.severity == "error" for i in issues)


class Scanner:
    """Checks rows; keeps the (row, hash) pairs that duplicate detection needs at the end."""

    def __init__(self, fmt: Format, *, rules: TemplateRules | None = None, max_length: int | None = None,
                 tokenizer: Any = None, duplicates: bool = True) -> None:
        self.fmt = fmt
        self.rules = rules
        self.max_length = max_length
        self.tokenizer = backend_of(tokenizer)
        self.duplicates = duplicates
        self.hashes: list[tuple[list[int], list[int], list[int]]] = []
        # Raw lines can be cleared without decoding unless lengths need the messages themselves.
        self.prover = None if fmt.raw is None or (max_length is not None and tokenizer is not None) else Prover(
            fmt.raw, special_tokens=rules.special_tokens if rules else (),
            roles=rules.roles if rules else ROLES, other_keys=sorted(fmt.extra_keys))

    def scan(self, records: Iterable[Record]) -> Iterator[Outcome]:
        """Yield an `Outcome` per record, in input order (duplicates come from `duplicate_issues`)."""
        chunk: list[Record] = []
        for record in records:
            chunk.append(record)
            if len(chunk) == CHUNK_ROWS:
                yield from self.check_chunk(chunk)
                chunk = []
        if chunk:
            yield from self.check_chunk(chunk)

    def _precise(self, record: Record, raw_messages: list[Any]) -> tuple[list[Issue], str | None, list[Any] | None]:
        messages, issues = check_messages(raw_messages, record.row, partial(self.fmt.path, record.data),
                                          self.fmt.root, self.rules, self.fmt.completion_only)
        if messages is None or any(i.severity == "error" for i in issues):
            return issues, None, None
        return issues, dup_text([m.role for m in messages], [m.content for m in messages]), raw_messages

    def _row(self, record: Record) -> tuple[list[Issue], str | None, list[Any] | None]:
        data = record.data
        if isinstance(data, Issue):
            return [data], None, None
        try:
            raw_messages = self.fmt.to_messages(data)
        except FormatError as exc:
            return [Issue.make(record.row, p, code, m) for p, code, m in exc.problems], None, None
        text = fast_clean(raw_messages, self.rules)
        if text is None:
            return self._precise(record, raw_messages)
        return [], text, raw_messages

    def check_lines(self, lines: list[tuple[int, bytes]]) -> tuple[list[Issue], list[int]]:
        """(issues, rows with errors) of raw JSONL lines given as (row, bytes)."""
        proven = self.prover.prove([line for _, line in lines]) if self.prover else [None] * len(lines)
        rest, cleared, exact, folded, issues = [], [], [], [], []
        for (row, line), result in zip(lines, proven):
            if result is None:
                rest.append(Record(row, decode_row(line, row), line))
                continue
            cleared.append(row)
            exact.append(result[0])
            folded.append(result[1])
            if self.max_length is not None and result[2] > self.max_length:
                issues.append(self._too_long(row, result[2], "characters"))
        if cleared and self.duplicates:
            self.hashes.append((cleared, exact, folded))
        invalid = []
        for outcome in self.check_chunk(rest) if rest else []:
            issues += outcome.issues
            if not outcome.valid:
                invalid.append(outcome.record.row)
        return issues, invalid

    def _too_long(self, row: int, length: int, unit: str) -> Issue:
        return Issue.make(row, self.fmt.root, "too-long", f"{length} {unit} > max length {self.max_length}")

    def check_chunk(self, chunk: list[Record]) -> list[Outcome]:
        """Outcomes of one chunk; records the chunk's hashes for `duplicate_issues`."""
        import polars as pl

        rows = [self._row(record) for record in chunk]
        kept = [i for i, (_, text, _) in enumerate(rows) if text is not None]
        texts = pl.Series([rows[i][1] for i in kept], dtype=pl.String)
        for k, suspect in zip(list(kept), suspects(texts, self.rules)):
            if suspect and not rows[k][0]:  # cleared by fast_clean: re-check precisely
                rows[k] = self._precise(chunk[k], rows[k][2])  # type: ignore[arg-type]
        if any(rows[k][1] is None for k in kept):
            kept = [k for k in kept if rows[k][1] is not None]
            texts = pl.Series([rows[k][1] for k in kept], dtype=pl.String)
        extra: dict[int, list[Issue]] = {}
        if kept and self.duplicates:
            self.hashes.append(([chunk[k].row for k in kept], *fingerprints(texts.to_list())))
        if kept and self.max_length is not None:
            self._lengths(chunk, [(k, rows[k][2]) for k in kept], extra)
        return [Outcome(record, issues + extra.get(i, [])) for i, (record, (issues, _, _)) in
                enumerate(zip(chunk, rows))]

    def _lengths(self, chunk: list[Record], kept: list[tuple[int, Any]], extra: dict[int, list[Issue]]) -> None:
        if self.tokenizer is None:
            lengths = [sum(len(m.get("content") or "") for m in msgs) for _, msgs in kept]
            unit = "characters"
        else:
            render = self.rules.render if self.rules is not None and self.rules.render else _plain_text
            lengths = count_tokens([render(msgs) for _, msgs in kept], self.tokenizer)
            unit = "tokens"
        for (i, _), length in zip(kept, lengths):
            if length > (self.max_length or 0):
                extra.setdefault(i, []).append(self._too_long(chunk[i].row, length, unit))

    def duplicate_issues(self) -> list[Issue]:
        """`duplicate` / `near-duplicate` warnings for every row that repeats an earlier one."""
        return duplicate_issues(self.hashes, self.fmt.root)


def duplicate_issues(hashes: list[tuple[list[int], list[int], list[int]]], root: str) -> list[Issue]:
    """Resolve duplicates over all (rows, exact, folded) at once: each row against its first copy."""
    import polars as pl

    if not hashes:
        return []
    frame = pl.DataFrame({"row": [r for h in hashes for r in h[0]], "exact": [x for h in hashes for x in h[1]],
                          "folded": [x for h in hashes for x in h[2]]},
                         schema={"row": pl.Int64, "exact": pl.UInt64, "folded": pl.UInt64})
    frame = frame.with_columns(first_exact=pl.col("row").min().over("exact"),
                               first_folded=pl.col("row").min().over("folded"))
    repeats = frame.filter((pl.col("row") != pl.col("first_exact")) | (pl.col("row") != pl.col("first_folded")))
    issues = []
    for row, first_exact, first_folded in repeats.select("row", "first_exact", "first_folded").iter_rows():
        if row != first_exact:
            issues.append(Issue.make(row, root, "duplicate", f"same as row {first_exact}"))
        else:
            issues.append(Issue.make(row, root, "near-duplicate",
                                     f"same as row {first_folded} after case and whitespace folding"))
    return issues


def _plain_text(messages: list[Any]) -> str:
    return "\n".join(m.get("content") or "" for m in messages)


# --- several processes over one JSONL file --------------------------------------------------

_WORKER: Scanner | None = None


def line_ranges(path: Path, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of `path`, each starting at the beginning of a line."""
    size = path.stat().st_size
    bounds = [0]
    with path.open("rb") as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, bounds[-1]))
            f.readline()
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def scan_lines(scanner: Scanner, path: str | Path, start: int, end: int,
               progress: Callable[[int], None] | None = None) -> tuple[int, int, list[Issue], list[int]]:
    """(lines, records, issues, invalid rows) of the JSONL lines in bytes [start, end) of `path`;
    rows are counted from the range's first line. Blank lines are skipped; a BOM at byte 0 too."""
    lines = records = 0
    issues: list[Issue] = []
    invalid: list[int] = []
    with open(path, "rb") as f:
        f.seek(start)
        position = start
        while position < end and (block := f.readlines(1 << 20)):
            chunk = []
            before = position
            for line in block:
                if position >= end:
                    break
                position += len(line)
                lines += 1
                if start == 0 and lines == 1 and line.startswith(BOM):
                    line = line[len(BOM):]
                if not line.isspace():
                    chunk.append((lines, line))
            records += len(chunk)
            part, bad = scanner.check_lines(chunk)
            issues += part
            invalid += bad
            if progress is not None:
                progress(position - before)
    return lines, records, issues, invalid


def _scan_range(task: tuple[str, int, int]) -> tuple[int, int, list[Issue], list[int], list[tuple]]:
    """In a worker: (lines, records, issues, invalid rows, hashes), rows relative to the range."""
    scanner = _WORKER
    assert scanner is not None
    scanner.hashes = []
    return *scan_lines(scanner, *task), scanner.hashes


def scan_jsonl(path: Path, scanner: Scanner, *, workers: int,
               progress: Callable[[int], None] | None = None) -> tuple[int, list[Issue], set[int]]:
    """(records, issues, invalid rows) of a JSONL file: in this process, or in `workers` forked
    processes when the file is large enough to pay for them."""
    size = path.stat().st_size
    if workers > 1 and size >= PARALLEL_MIN_BYTES:
        return scan_parallel(path, scanner, workers=workers, progress=progress)
    _, records, issues, invalid = scan_lines(scanner, path, 0, size, progress)
    return records, issues, set(invalid)


def scan_parallel(path: Path, scanner: Scanner, *, workers: int,
                  progress: Callable[[int], None] | None = None) -> tuple[int, list[Issue], set[int]]:
    """(records, issues, invalid rows) of a JSONL file checked by `workers` forked processes."""
    import multiprocessing

    global _WORKER
    _WORKER = scanner
    tasks = [(str(path), a, b) for a, b in line_ranges(path, workers * 8)]
    offset = records = 0
    issues: list[Issue] = []
    invalid: set[int] = set()
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            for (a, b), (lines, count, part, bad, hashes) in zip(
                    [(t[1], t[2]) for t in tasks], pool.imap(_scan_range, tasks)):
                issues += [i.model_copy(update={"row": i.row + offset}) for i in part] if offset else part
                invalid.update(r + offset for r in bad)
                scanner.hashes += [([r + offset for r in rows], exact, folded) for rows, exact, folded in hashes]
                records += count
                offset += lines
                if progress is not None:
                    progress(b - a)
    finally:
        _WORKER = None
    return records, issues, invalid


def default_workers() -> int:
    """Processes for a large file: the CPUs this process may use, at most 8."""
    return min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

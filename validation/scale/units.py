"""One unit of a sharded run, checked by a task: the same `Scanner` as `validate`, rows relative to
the unit, what it found written into the run's folder for the stages after it.

`Checks` holds every option that shapes the checks of a row, as objects that pickle (a template
object, not its compiled rules): a task process, forked, spawned or on another machine, builds the
scanner from its copy.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import pickle
from array import array
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO, ContextManager

from validation.checks.images import ImageChecks
from validation.checks.parallel import blocks, scan_blocks
from validation.checks.scan import Scanner
from validation.options import check_max_length, check_tokenizer, resolve_rules, response_schema_of
from validation.readers.files import BOM, Record, lines_of, open_bytes, readable
from validation.readers.columns import Columns
from validation.readers.decode import MAX_ROW_BYTES
from validation.readers.formats import Format, get_format
from validation.readers.source import WINDOW_BUFFER, Dataset, Window, dataset_of
from validation.report import Findings
from validation.scale.plan import Unit
from validation.scale.remote import fetched, is_remote

if TYPE_CHECKING:
    from validation.checks.contamination import Benchmark
    from validation.checks.near_duplicates import NearDupOptions


@dataclass(frozen=True)
class Checks:
    """The options of a sharded `validate`: the format every shard is read as, and the checks, as
    `validate` takes them. Every task gets a copy (pickled to a process, a Ray worker or a Slurm
    job): `template` is a template object such as `instructkit.Names().template(name)` returns
    (its rules are built in each task), `tokenizer` a tokenizer object."""

    format: str
    column: str | None = None
    columns: str | None = None  # --map, as given
    max_row_bytes: int | None = None
    template: Any = None
    tokenizer: Any = None
    max_length: int | None = None
    response_schema: str | dict[str, Any] | None = None
    response_scope: str = "last"
    reward_columns: dict[str, str] | None = None
    near_dup: NearDupOptions | None = None
    benchmark: Benchmark | None = field(default=None, compare=False)
    max_issues: int | None = None
    image_root: str | None = None  # relative image paths: from here, else from each shard's folder
    spool: bool = False  # every issue is wanted (--issues-jsonl): each unit writes all of its own

    def key(self) -> str:
        """The checks as a digest that every process and every run computes alike (the benchmark by what it is)."""
        options = {k: repr(v) for k, v in sorted(vars(self).items()) if k not in ("template", "tokenizer", "benchmark")}
        options["template"] = self.template_name()
        options["tokenizer"] = None if self.tokenizer is None else \
            getattr(self.tokenizer, "name_or_path", type(self.tokenizer).__name__)
        if self.benchmark is not None:
            b = self.benchmark
            options["benchmark"] = repr((b.name, b.field, b.ngram, b.rows))
        return hashlib.sha256(json.dumps(options, sort_keys=True).encode()).hexdigest()

    def fmt(self) -> Format:
        return get_format(self.format, column=self.column)

    def template_name(self) -> str | None:
        """The template's name as the report gives it."""
        rules = resolve_rules(self.template)
        return rules.name if rules is not None else None

    def scanner(self) -> Scanner:
        """The scanner `validate` would build for these options."""
        near = None
        fmt = self.fmt()
        if self.near_dup is not None:
            from validation.checks.near_duplicates import NearDuplicates

            near = NearDuplicates(fmt.root, self.near_dup)
        return Scanner(fmt, rules=resolve_rules(self.template), max_length=check_max_length(self.max_length),
                       tokenizer=check_tokenizer(self.tokenizer),
                       response=response_schema_of(self.response_schema, self.response_scope), near=near,
                       benchmark=self.benchmark, required=self.reward_columns)

    @property
    def limit(self) -> int:
        """Bytes a JSONL row may have (longer: `row-too-large`, skipped unread)."""
        return self.max_row_bytes or MAX_ROW_BYTES

    def lines(self, unit: Unit) -> bool:
        """Whether `unit` is checked as raw lines (JSONL read with its own field names), as `validate` does."""
        return self.columns is None and not unit.path.lower().endswith((".parquet", ".pq"))


@dataclass
class UnitResult:
    """What a unit's check found: `lines` (rows it numbers), `records`, its findings (rows relative to
    the unit), its invalid rows, the duplicate hashes of its valid rows and the corpus checks' gatherings."""

    lines: int
    records: int
    findings: Findings
    invalid: array
    hashes: tuple[array, array, array] | None
    corpus: Any


def check_unit(checks: Checks, scanner: Scanner, unit: Unit, spool: IO[bytes] | None = None) -> UnitResult:
    """Check every row of `unit`; `spool`: where every issue is written as it is found."""
    findings = Findings(checks.max_issues, spool)
    scanner.images = ImageChecks.beside(unit.path, checks.image_root)  # (shards may lie in different folders)
    if checks.lines(unit):
        with unit_bytes(unit) as (f, size):
            lines, records, invalid = scan_blocks(scanner, findings, blocks(f, size, limit=checks.limit),
                                                  first=unit.start == 0, settle=False)
    else:
        lines = records = 0
        invalid = array("q")
        with shard_of(checks, unit) as data:
            findings.where = data.in_source if data.renamed else None
            for outcome in scanner.scan(data.records()):
                records += 1
                lines = outcome.record.row
                findings.add(outcome.issues)
                if not outcome.valid:
                    invalid.append(outcome.record.row)
    findings.labels, scanner.labels = scanner.labels, Counter()
    findings.stream = findings.where = None  # (written and closed; a method of the closed dataset)
    hashes = scanner.duplicates.take() if scanner.duplicates is not None else None
    return UnitResult(lines, records, findings, invalid, hashes, scanner.take_corpus())


@contextmanager
def unit_records(checks: Checks, unit: Unit) -> Iterator[tuple[Iterator[Record], Columns | None]]:
    """(every row of `unit` as a record, rows relative to it; the renamed columns) as --write-clean
    copies them: raw lines of JSONL (a line's bytes only, for a shard read as lines), records otherwise."""
    if not checks.lines(unit):
        with shard_of(checks, unit) as data:
            yield (r for r in data.records() if isinstance(r.data, dict)), data.columns
        return
    with unit_bytes(unit) as (f, _):
        yield _raw_lines(f, checks.limit, unit.start == 0), None


@contextmanager
def decoded_records(checks: Checks, unit: Unit, precise: bool = True) -> Iterator[
        tuple[Iterator[Record], list[int], Dataset | None]]:
    """(every row of `unit` decoded, `precise`ly as `convert` reads a file, rows relative to the unit; a list whose one
    item is, once the rows are read, how many lines the unit numbers; the shard's dataset when the unit is read as
    records, else None)."""
    from validation.readers.decode import decode_row

    lines = [0]
    if not checks.lines(unit):
        with shard_of(checks, unit) as data:
            def records_of() -> Iterator[Record]:
                for record in data.records(precise=precise):
                    lines[0] = record.row
                    yield record
            yield records_of(), lines, data
        return

    with unit_bytes(unit) as (f, _):
        yield (Record(r.row, decode_row(r.raw, r.row, precise=precise), r.raw)  # type: ignore[arg-type]
               for r in _raw_lines(f, checks.limit, unit.start == 0, lines)), lines, None


def shard_of(checks: Checks, unit: Unit) -> ContextManager[Dataset]:
    """The shard of `unit` opened as a dataset of the run's format (a unit read as records is a whole shard)."""
    return dataset_of(unit.path, format=checks.format, column=checks.column, columns=checks.columns,
                      max_row_bytes=checks.max_row_bytes)


@contextmanager
def unit_bytes(unit: Unit) -> Iterator[tuple[BinaryIO, int | None]]:
    """(the bytes of `unit`: a whole shard, decompressed, or its range of a plain one; how many, None: to the end)."""
    path = Path(unit.path)
    with readable(path), path.open("rb") as raw:
        if unit.end is None:
            with open_bytes(path, raw) as f:
                yield f, None
        else:
            # (a buffer smaller than the blocks read: each block is read straight into its bytes, not copied
            # through the buffer, as `validate` reads a file: 2 GB, 1 CPU: 1.08 -> 0.44 s in preadv)
            with io.BufferedReader(Window(raw.fileno(), unit.start, unit.end), WINDOW_BUFFER) as window:
                yield window, unit.end - unit.start


@contextmanager
def local_unit(unit: Unit) -> Iterator[Unit]:
    """`unit` as a task reads it: a remote shard's (a URL fsspec reads) fetched into a local file for the block, a local
    one as it is."""
    if not is_remote(unit.path):
        yield unit
        return
    from dataclasses import replace

    with fetched(unit.path) as local:
        yield replace(unit, path=local)


def _raw_lines(f: Any, limit: int, first: bool, lines: list[int] | None = None) -> Iterator[Record]:
    """The rows of a unit's lines, a BOM before the first dropped, blank lines left out (`lines`: its one item
    follows the lines read, blank ones too)."""
    for row, line in enumerate(lines_of(f, limit), start=1):
        if lines is not None:
            lines[0] = row
        if row == 1 and first:
            line = line.removeprefix(BOM)
        if not line.isspace():
            yield Record(row, {}, line)


# --- the run's folder --------------------------------------------------------------------------------

def put(path: Path, data: bytes) -> None:
    """`data` written to `path` whole or not at all (a task killed midway and run again leaves no half file)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    part = path.with_name(path.name + f".{os.getpid()}.part")
    part.write_bytes(data)
    os.replace(part, path)


def save_result(folder: Path, unit: Unit, result: UnitResult) -> None:
    """The unit's result, then its line count (`counts/`): a count present means the result is whole."""
    put(folder / "units" / f"{unit.index:06d}.pkl", pickle.dumps(result, protocol=pickle.HIGHEST_PROTOCOL))
    put(folder / "counts" / f"{unit.index:06d}.json", json.dumps({"lines": result.lines,
                                                                   "records": result.records}).encode())


def load_result(folder: Path, unit: Unit) -> UnitResult:
    with open(folder / "units" / f"{unit.index:06d}.pkl", "rb") as f:
        result: UnitResult = pickle.load(f)
    return result


def offsets(folder: Path, units: list[Unit]) -> list[int]:
    """The row each unit's rows count from (its first row is offset + 1), and the total at the end."""
    found = [0]
    for unit in units:
        counts = json.loads((folder / "counts" / f"{unit.index:06d}.json").read_bytes())
        found.append(found[-1] + counts["lines"])
    return found

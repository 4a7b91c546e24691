"""What a sharded run reads: its shards in order, cut into units that tasks check one at a time.

The dataset is its shards joined in order (a folder's files sorted by name), rows numbered across
them as if they were one file: shard 2's first row follows shard 1's last line. A plain JSONL shard
is cut at line boundaries into units of about `UNIT_BYTES`; a compressed shard, a Parquet shard,
or any shard read with renamed columns (--map) is one unit. The plan is written once into the run's
folder, so every task of every stage (and a resumed run) reads the same units.
"""

from __future__ import annotations

import glob
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from validation.errors import InputError
from validation.checks.parallel import line_ranges
from validation.readers.files import compression_of, held_suffix
from validation.readers.source import dataset_of
from validation.scale.remote import fetched, is_remote, remote_shards, remote_stat

READS = "a sharded run reads JSONL and Parquet shards (convert it first, or check it without --executor)"
UNIT_BYTES = 64 << 20  # a plain JSONL shard is checked in units of about this many bytes
SHARD_SUFFIXES = (".jsonl", ".ndjson", ".parquet", ".pq")  # what a folder's shards hold (compressed or not)


@dataclass(frozen=True)
class Unit:
    """Bytes `start`..`end` of shard `shard` (its `path`); `end` None: the whole shard."""

    index: int
    shard: int
    path: str
    start: int = 0
    end: int | None = None


@dataclass(frozen=True)
class Plan:
    """The shards, the units they are cut into, and the format every shard is read as."""

    shards: list[str]
    units: list[Unit]
    format: str
    column: str | None = None
    ranges: int = 1  # duplicates are resolved per range of their hashes, this many ranges
    sizes: list[int] = field(default_factory=list)  # bytes of each shard as stored

    def units_of(self, rank: int, tasks: int) -> list[Unit]:
        """The units task `rank` of `tasks` checks: the largest first, each to the task with the fewest bytes
        so far (the same split in every task, so that each finds its own share without asking)."""
        load = [0] * tasks
        mine: list[Unit] = []
        for unit in sorted(self.units, key=lambda u: (-self.size(u), u.index)):
            task = load.index(min(load))
            load[task] += self.size(unit)
            if task == rank:
                mine.append(unit)
        return sorted(mine, key=lambda u: u.index)

    def size(self, unit: Unit) -> int:
        """Bytes of `unit` as stored."""
        return (unit.end if unit.end is not None else self.sizes[unit.shard]) - unit.start

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=1)

    @classmethod
    def from_json(cls, text: str) -> Plan:
        data = json.loads(text)
        return cls(data["shards"], [Unit(**u) for u in data["units"]], data["format"], data["column"], data["ranges"],
                   data["sizes"])


def shards_of(inputs: list[str]) -> list[str]:
    """Every shard the inputs name, in order: a file, a folder (its JSONL and Parquet files, compressed
    or not, sorted by name, subfolders included) or a glob pattern (matches sorted by name)."""
    shards: list[str] = []
    for given in inputs:
        if is_remote(given):  # (a URL fsspec reads: validation/scale/remote.py)
            found = remote_shards(given, SHARD_SUFFIXES)
        elif os.path.isdir(given):
            found = sorted(str(p) for p in Path(given).rglob("*") if p.is_file() and held_suffix(p) in SHARD_SUFFIXES)
            if not found:
                raise InputError(f"{given}: a folder without JSONL or Parquet files (a sharded run reads "
                                 f"{', '.join(SHARD_SUFFIXES)}, compressed or not)")
        elif glob.has_magic(given):
            found = sorted(p for p in glob.glob(given, recursive=True) if os.path.isfile(p))
            if not found:
                raise InputError(f"{given}: no file matches")
        elif os.path.isfile(given):
            found = [given]
        else:
            raise InputError(f"{given}: no such file or folder")
        shards.extend(found)
    seen: set[str] = set()
    for shard in shards:
        key = shard if is_remote(shard) else os.path.realpath(shard)
        if key in seen:
            raise InputError(f"{shard}: named twice (each shard is read once)")
        seen.add(key)
    return shards


def make_plan(inputs: list[str], *, format: str | None = None, column: str | None = None,
              columns: str | None = None, max_row_bytes: int | None = None, ranges: int = 1,
              unit_bytes: int = UNIT_BYTES) -> Plan:
    """The plan of a sharded run: the format is the one named or the one the first shard's rows
    show; every other shard is read as that format. `ranges`: how many hash ranges the duplicates
    are resolved in (one task each).

    Raises:
        InputError: a shard missing or not JSONL/Parquet, no shard at all, an undetectable format.
    """
    shards = shards_of(inputs)
    if not shards:
        raise InputError("no shards to read")
    units: list[Unit] = []
    sizes: list[int] = []
    fmt = format
    for n, shard in enumerate(shards):
        if is_remote(shard):  # one unit, which the task that reads it fetches whole
            if held_suffix(Path(shard.partition("::")[0])) not in SHARD_SUFFIXES:
                raise InputError(f"{shard}: {READS}")
            sizes.append(remote_stat(shard)[0])
            if fmt is None:  # (the format the first shard's rows show)
                with fetched(shard) as local, _shard(local, fmt, column, columns, max_row_bytes) as data:
                    fmt = data.format.name
            units.append(Unit(len(units), n, shard))
            continue
        with _shard(shard, fmt, column, columns, max_row_bytes) as data:
            fmt = fmt or data.format.name
            size = data.size or 0
            sizes.append(size)
            if data.kind != "jsonl" or compression_of(shard) or columns or size <= unit_bytes:
                units.append(Unit(len(units), n, shard))
                continue
            base = len(units)
            cut = line_ranges(data, -(-size // unit_bytes))
            units.extend(Unit(base + i, n, shard, a, b) for i, (a, b) in enumerate(cut))
    assert fmt is not None
    return Plan(shards, units, fmt, column, ranges, sizes)


@contextmanager
def _shard(path: str, fmt: str | None, column: str | None, columns: str | None,
           max_row_bytes: int | None) -> Iterator[Any]:
    """The shard at `path` opened as a dataset; InputError unless it holds JSONL or Parquet."""
    with dataset_of(path, format=fmt, column=column, columns=columns, max_row_bytes=max_row_bytes) as data:
        if data.kind not in ("jsonl", "parquet"):
            raise InputError(f"{path}: a {data.kind} file; {READS}")
        yield data

"""A sharded `validate` as datatrove pipeline steps, one stage each; datatrove's executors (local
processes, Ray, Slurm) place their tasks, mark each task complete and skip completed tasks on a rerun.

1. `CheckUnits` (N tasks): task k checks units k, k+N, ...; each unit's result, its issues and its
   duplicate hashes, split by hash range, go into the run's folder.
2. `ResolveDuplicates` (one task per hash range): the repeats among the rows of its range, every unit's
   rows numbered as in the joined dataset — datatrove's global dedup (hashes written per shard,
   grouped by hash range in a second stage).
3. `MergeReport` (one task): the report (validation/scale/merge.py).
4. `WriteClean` (N tasks) and `JoinClean` (one task): each unit's valid rows, then joined in order.
"""

from __future__ import annotations

import contextlib
import pickle
from array import array
from pathlib import Path
from typing import Any

import numpy as np
from datatrove.pipeline.base import PipelineStep

from validation.checks.duplicates import Duplicates
from validation.outputs import open_for_writing
from validation.report import Findings
from validation.scale.merge import load_plan, merge
from validation.scale.units import Checks, check_unit, local_unit, offsets, put, save_result, unit_records
from validation.validate import CleanWriter


class _Step(PipelineStep):
    type = "instructkit"

    def __init__(self, folder: str, checks: Checks) -> None:
        super().__init__()
        self.folder = folder
        self.checks = checks


def hash_range(folded: np.ndarray, ranges: int) -> np.ndarray:
    """The range (0..ranges-1) of each folded hash: equal hashes share a range, and rows that are equal
    exactly are equal folded too, so each range resolves both kinds of repeat on its own."""
    return ((folded >> np.uint64(32)) * np.uint64(ranges)) >> np.uint64(32)


class CheckUnits(_Step):
    name = "check units"

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        plan = load_plan(folder)
        scanner = self.checks.scanner()
        for unit in plan.units_of(rank, world_size):
            spooled = folder / "units" / f"{unit.index:06d}.issues.jsonl"
            with local_unit(unit) as here:  # (a remote shard fetched whole)
                if self.checks.spool:
                    spooled.parent.mkdir(parents=True, exist_ok=True)
                    with open(spooled.with_name(spooled.name + ".part"), "wb") as spool:
                        result = check_unit(self.checks, scanner, here, spool)
                    spooled.with_name(spooled.name + ".part").replace(spooled)
                else:
                    result = check_unit(self.checks, scanner, here)
            if result.hashes is not None:
                rows, exact, folded = (np.frombuffer(a, dtype=t) for a, t in zip(result.hashes, (np.int64, np.uint64,
                                                                                                  np.uint64)))
                where = hash_range(folded, plan.ranges)
                for r in range(plan.ranges):
                    mine = where == r
                    put(folder / "hashes" / f"{r:04d}" / f"{unit.index:06d}.bin",
                        np.stack([rows[mine].astype(np.uint64), exact[mine], folded[mine]]).tobytes())
                result.hashes = None
            save_result(folder, unit, result)
            self.stat_update("rows", value=result.records)
            self.stat_update("invalid", value=len(result.invalid))


class ResolveDuplicates(_Step):
    name = "resolve duplicates"

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        plan = load_plan(folder)
        starts = offsets(folder, plan.units)
        for r in range(rank, plan.ranges, world_size):
            duplicates = Duplicates(self.checks.fmt().root)
            spooled = folder / "duplicates" / f"{r:04d}.issues.jsonl"
            spooled.parent.mkdir(parents=True, exist_ok=True)
            with open(spooled, "wb") if self.checks.spool else contextlib.nullcontext() as spool:
                findings = Findings(self.checks.max_issues, spool)
                # in row order, resolved a batch at a time as `validate` resolves them
                for unit, offset in zip(plan.units, starts):
                    hashes = np.fromfile(folder / "hashes" / f"{r:04d}" / f"{unit.index:06d}.bin", dtype=np.uint64)
                    if hashes.size:
                        rows, exact, folded = hashes.reshape(3, -1)
                        duplicates.add(array("q", (rows.astype(np.int64) + offset).tobytes()),
                                       array("Q", exact.tobytes()), array("Q", folded.tobytes()))
                        duplicates.settle(findings)
                duplicates.resolve(findings)
            findings.stream = None
            put(folder / "duplicates" / f"{r:04d}.pkl", pickle.dumps(findings))
            self.stat_update("repeats", value=sum(findings.counts.values()))


class MergeReport(_Step):
    name = "merge report"

    def __init__(self, folder: str, checks: Checks, name: str, issues_jsonl: str | None) -> None:
        super().__init__(folder, checks)
        self.dataset = name
        self.issues_jsonl = issues_jsonl

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        merge(Path(self.folder), self.checks, self.dataset, self.issues_jsonl)


class WriteClean(_Step):
    name = "write clean"

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        plan = load_plan(folder)
        starts = offsets(folder, plan.units)
        invalid = np.fromfile(folder / "invalid.bin", dtype=np.int64)
        for unit in plan.units_of(rank, world_size):
            offset, end = starts[unit.index], starts[unit.index + 1]
            bad = set((invalid[np.searchsorted(invalid, offset, "right"):np.searchsorted(invalid, end, "right")]
                       - offset).tolist())
            out = folder / "clean" / f"{unit.index:06d}.jsonl"
            out.parent.mkdir(parents=True, exist_ok=True)
            with local_unit(unit) as here, unit_records(self.checks, here) as (records, columns), \
                    CleanWriter(out, columns) as clean:
                for record in records:
                    if record.row not in bad:
                        clean.add(record)
            self.stat_update("rows", value=end - offset)


class JoinClean(_Step):
    name = "join clean"

    def __init__(self, folder: str, checks: Checks, out: str) -> None:
        super().__init__(folder, checks)
        self.out = out

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        import shutil

        folder = Path(self.folder)
        with open_for_writing(self.out, text=False) as out:
            for unit in load_plan(folder).units:
                part = folder / "clean" / f"{unit.index:06d}.jsonl"
                if part.exists():
                    with open(part, "rb") as f:
                        shutil.copyfileobj(f, out, 1 << 20)

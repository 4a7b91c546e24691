"""`convert` over a sharded dataset on datatrove's executors, as `validate` runs there (validation/scale/run.py).

1. `ConvertUnits` (N tasks): each unit's rows converted as `convert` converts a row (`validation.convert
   .convert_record`), written to the unit's part; its issues, rows and lines kept. A target with a uniform layout
   (prompt-completion: message lists for every row once one row needs them) is written both ways, with whether
   some row of the unit needs the uniform one.
2. `JoinConverted` (one task, here): the parts joined in order into the output, in the uniform layout when any
   row of the dataset needs it, and the report: the one `convert` gives for the shards joined into one file
   (tests/validation/test_scale_convert.py holds it).
"""

from __future__ import annotations

import json
import os
import pickle
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datatrove.pipeline.base import PipelineStep

from validation.content import LAYOUTS
from validation.convert import convert_record
from validation.errors import InputError
from validation.outputs import json_line, open_for_writing
from validation.readers.formats import get_format
from validation.report import Issue, Report
from validation.scale.merge import load_plan, read_report
from validation.scale.plan import UNIT_BYTES, Unit
from validation.scale.run import Slurm, absolute, check_arguments, jsonl_output, prepare, run_stages
from validation.scale.units import Checks, decoded_records, local_unit, offsets, put

REPORT = "converted.json"


@dataclass(frozen=True)
class Target:
    """What the rows are converted to: `convert`'s --to, --to-column and --image-layout."""

    to: str
    column: str | None = None
    image_layout: str | None = None

    def format(self) -> Any:
        """The target format (`validation.readers.formats.get_format`)."""
        return get_format(self.to, column=self.column)


def convert_shards(inputs: Sequence[str | os.PathLike[str]], out: str | os.PathLike[str], target: Target, *,
                   format: str | None = None, column: str | None = None, columns: str | None = None,
                   max_row_bytes: int | None = None, logs: str | os.PathLike[str],
                   executor: str = "local", tasks: int = 1, workers: int | None = None, slurm: Slurm | None = None,
                   progress: bool = False, unit_bytes: int = UNIT_BYTES) -> Report | None:
    """Convert the shards `inputs` name into `out` (JSONL) as one dataset, with `tasks` tasks on `executor`: the
    report `convert` gives for the shards joined into one file (None for Slurm: LOGS/converted.json when the jobs
    finish). Rows the target cannot hold are reported with their row across the shards, never written; when no
    row can be converted, `out` is not written.

    Raises:
        InputError: as `validate_shards`, and an unknown target format or image layout.
    """
    target.format()  # (an unknown format or column: before anything runs)
    if target.image_layout is not None and target.image_layout not in LAYOUTS:
        raise InputError(f"image layout must be one of {', '.join(LAYOUTS)}, not {target.image_layout!r}")
    check_arguments(executor, tasks, workers, slurm)
    jsonl_output(out, "the converted rows")
    checks = Checks(format=format or "", column=column, columns=columns, max_row_bytes=max_row_bytes)
    folder, plan, checks, name = prepare(inputs, checks, logs=logs,
                                         executor=executor, tasks=tasks, unit_bytes=unit_bytes,
                                         outputs=[os.fspath(out)], options={"convert": vars(target)})
    stages = [("convert", ConvertUnits(str(folder), checks, target), tasks, True),
              ("join", JoinConverted(str(folder), checks, target, name, absolute(out)), 1, False)]
    if not run_stages(folder, plan, stages, executor=executor, workers=workers, slurm=slurm, progress=progress):
        return None
    return read_report(folder / REPORT)


class ConvertUnits(PipelineStep):
    name = "convert units"
    type = "instructkit"

    def __init__(self, folder: str, checks: Checks, target: Target) -> None:
        super().__init__()
        self.folder, self.checks, self.target = folder, checks, target

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        plan = load_plan(folder)
        target = self.target.format()
        (folder / "converted").mkdir(parents=True, exist_ok=True)
        for unit in plan.units_of(rank, world_size):
            with local_unit(unit) as here:  # (a remote shard fetched whole)
                modes = _convert_unit(self.checks, here, target, self.target.image_layout,
                                      {uniform: _part(folder, unit.index, uniform)
                                       for uniform in ((False, True) if target.uniform is not None else (False,))})
            rows, lines = modes[False].rows, modes[False].lines
            put(folder / "units" / f"{unit.index:06d}.pkl", pickle.dumps(modes))
            put(folder / "counts" / f"{unit.index:06d}.json", json.dumps({"lines": lines, "records": rows}).encode())
            self.stat_update("rows", value=rows)


@dataclass
class Converted:
    """A unit converted one way: its issues (rows relative to it), rows read, rows written, whether some row needs the
    target's uniform layout, and the lines the unit numbers."""

    issues: list[Issue]
    rows: int
    written: int
    needs_uniform: bool
    lines: int


def _convert_unit(checks: Checks, unit: Unit, target: Any, image_layout: str | None,
                  parts: dict[bool, Path]) -> dict[bool, Converted]:
    """Convert the rows of `unit`, each as `convert` converts it, into each of `parts` (JSONL): plainly (False) and
    by the target's uniform writer (True), the unit read once."""
    from contextlib import ExitStack

    fmt = checks.fmt()
    done = {uniform: Converted([], 0, 0, False, 0) for uniform in parts}
    with decoded_records(checks, unit) as (records, lines, shard), ExitStack() as stack:
        outs = {uniform: stack.enter_context(open_for_writing(path, text=True)) for uniform, path in parts.items()}
        for record in records:
            for uniform, out in outs.items():
                made = done[uniform]
                made.rows += 1
                rows, needs = convert_record(record, fmt, target, uniform=uniform, image_layout=image_layout,
                                             issues=made.issues)
                if rows is not None:
                    made.written += 1
                    made.needs_uniform = made.needs_uniform or needs
                    out.writelines(json_line(row) for row in rows)
        for made in done.values():
            made.lines = lines[0]
            if shard is not None and shard.renamed:  # (issues name the fields as the source does)
                made.issues = [shard.in_source(i) for i in made.issues]
    return done


class JoinConverted(PipelineStep):
    name = "join converted"
    type = "instructkit"

    def __init__(self, folder: str, checks: Checks, target: Target, dataset: str, out: str) -> None:
        super().__init__()
        self.folder, self.checks, self.target, self.dataset, self.out = folder, checks, target, dataset, out

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        units = load_plan(folder).units
        starts = offsets(folder, units)
        results = []
        for unit in units:
            with open(folder / "units" / f"{unit.index:06d}.pkl", "rb") as f:
                results.append(pickle.load(f))
        uniform = any(r[False].needs_uniform for r in results)  # as `convert`: every row uniform once one needs it
        rows = sum(r[False].rows for r in results)
        written = sum(r[uniform].written for r in results)
        issues = [i.model_copy(update={"row": i.row + start})
                  for r, start in zip(results, starts) for i in r[uniform].issues]
        if written or not rows:  # (none of many rows converted: the output is not written, as `convert` leaves it)
            with open_for_writing(self.out, text=False) as out:
                for unit in units:
                    with open(_part(folder, unit.index, uniform), "rb") as part:
                        shutil.copyfileobj(part, out, 1 << 20)
        report = Report(path=self.dataset, format=self.checks.fmt().name, rows=rows, valid=written,
                        invalid=rows - written, issues=issues)
        put(folder / REPORT, json.dumps(report.to_json(), ensure_ascii=False).encode())


def _part(folder: Path, unit: int, uniform: bool) -> Path:
    return folder / "converted" / f"{unit:06d}{'.uniform' if uniform else ''}.jsonl"

"""`stats` over a sharded dataset on datatrove's executors, as `validate` runs there (validation/scale/run.py).

1. `StatsUnits` (N tasks): each unit read by the reader `stats` reads that kind of file with (the C reader for a
   list-of-messages JSONL, Polars for typed Parquet, the validation readers for the rest) into the part of the
   summary it gives (`validation.statistics.summary.StatsPart`: lengths, hashes, counts, no message's text), with
   its tool and reply counts when there are any to count.
2. `MergeStats` (here; a job of its own on Slurm): the parts merged in order and summarised: the statistics `stats`
   gives for the shards joined into one file (tests/validation/test_scale_stats.py holds it), the summary written as
   LOGS/stats.json.
"""

from __future__ import annotations

import json
import mmap
import os
import pickle
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

from datatrove.pipeline.base import PipelineStep

from validation.checks.images import NAMED, SAMPLE, ImageChecks, names_image
from validation.checks.tools import TOOL_SAMPLE, ToolTally, has_tool_fields
from validation.options import check_tokenizer, resolve_rules, response_schema_of
from validation.readers.files import Record, compression_of, readable
from validation.scale.merge import load_plan
from validation.scale.plan import UNIT_BYTES, Unit
from validation.scale.run import Slurm, check_arguments, prepare, run_stages
from validation.scale.units import Checks, decoded_records, local_unit, put, shard_of, unit_bytes

REPORT = "stats.json"


@dataclass
class UnitStats:
    """What a unit gives: its part of the summary, its records, what decides whether tools are counted (whether its
    rows declare tools or make calls, None where its reader cannot tell; the first record that does) and its images:
    whether it is read as JSONL lines (the shards joined are a plain JSONL file, whose bytes `has_images` searches
    whole), whether it names an image, the first of its first `SAMPLE` records that names one (a shard read whole,
    as Parquet or with --map) and its `image_rows` when it names any."""

    part: Any  # validation.statistics.summary.StatsPart
    records: int
    tools_found: bool | None
    first_tool_record: int | None
    lines: bool = False
    named: bool = False
    first_image_record: int | None = None
    images: tuple[Any, Counter[str], Counter[int]] | None = None


def stats_shards(inputs: Sequence[str | os.PathLike[str]], checks: Checks, *, logs: str | os.PathLike[str],
                 executor: str = "local", tasks: int = 1, workers: int | None = None, slurm: Slurm | None = None,
                 progress: bool = False, unit_bytes: int = UNIT_BYTES, outputs: Sequence[str] = ()) -> Any:
    """The statistics (`validation.statistics.conversations.Stats`) of the shards `inputs` name, as one dataset, with
    `tasks` tasks on `executor`; None for Slurm (the summary is LOGS/stats.json when the jobs finish). The summary is
    the one `stats` gives for the shards joined into one file; the message frame holds no text (conversation, turn,
    role, chars and tokens).

    `checks` carries what `stats` takes: format, column, --map, tokenizer, template, max_length, response schema,
    near_dup (the clusters of near-duplicate conversations across every shard).
    `outputs`: the files the caller writes the statistics to, refused before anything runs when one is a shard.

    Preference data gives `PairStats` (its frame: each part's length and the label, no text).

    Raises:
        InputError: as `validate_shards`.
    """
    check_arguments(executor, tasks, workers, slurm)
    response_schema_of(checks.response_schema, checks.response_scope)  # (a bad schema: before anything runs)
    folder, plan, checks, name = prepare(inputs, checks, logs=logs, executor=executor, tasks=tasks,
                                         unit_bytes=unit_bytes, outputs=[os.fspath(o) for o in outputs],
                                         options={"stats": True})
    summary = MergeStats(str(folder), checks, name, progress=progress and executor != "slurm")
    stages = [("stats", StatsUnits(str(folder), checks), tasks, True)]
    if executor == "slurm":  # (a job after the units' jobs; else here, where its statistics are returned)
        stages.append(("summary", summary, 1, False))
    if not run_stages(folder, plan, stages, executor=executor, workers=workers, slurm=slurm, progress=progress):
        return None
    summary.run()
    return summary.result


class StatsUnits(PipelineStep):
    name = "stats of units"
    type = "instructkit"

    def __init__(self, folder: str, checks: Checks) -> None:
        super().__init__()
        self.folder, self.checks = folder, checks

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        folder = Path(self.folder)
        for unit in load_plan(folder).units_of(rank, world_size):
            with local_unit(unit) as here:  # (a remote shard fetched whole)
                found = unit_stats(self.checks, here)
            put(folder / "parts" / f"{unit.index:06d}.pkl", pickle.dumps(found, protocol=pickle.HIGHEST_PROTOCOL))
            put(folder / "counts" / f"{unit.index:06d}.json", json.dumps({"records": found.records}).encode())
            self.stat_update("rows", value=found.records)


def unit_stats(checks: Checks, unit: Unit) -> UnitStats:
    """The part of the summary `unit` gives, read as `stats` reads a file of its kind."""
    # (these import Polars: in the task, never in the command before its tasks fork)
    from validation.statistics.frames import c_frames, python_frames, read_frames
    from validation.statistics.images import image_rows
    from validation.statistics.summary import stats_part

    fmt = checks.fmt()
    if fmt.preference:  # pairs: their own statistics, row by row as `stats` reads them
        from validation.statistics.pairs import pair_part

        with decoded_records(checks, unit, precise=False) as (rows, _, _):
            part, _ = pair_part(rows, fmt.name, check_tokenizer(checks.tokenizer))
        return UnitStats(part, part.frame.height + part.skipped, None, None)  # (every record: a pair, or skipped)
    response = response_schema_of(checks.response_schema, checks.response_scope)
    tally = ToolTally()
    if checks.lines(unit) and fmt.raw is not None:  # the C reader, as `stats` reads a list-of-messages JSONL
        with _UnitParts(checks, unit) as parts:
            frames = c_frames(parts, fmt, checks.limit)
            records, named = parts.records, parts.named
        # the rows' tools and replies: a unit where no row declares tools or makes calls has none to count but its
        # tool messages (none in its frame) and those of rows the frame skipped
        if response is not None or frames.tools or frames.skipped or \
                (frames.messages["role"] == "tool").any():
            with decoded_records(checks, unit, precise=False) as (rows, _, _):
                for record in rows:
                    tally.add(record.data, fmt, response)
        first = first_image = None
    else:
        watched = _Watched(tally, fmt, response)
        if checks.lines(unit):  # as `stats` reads a JSONL file of another format: row by row
            with decoded_records(checks, unit, precise=False) as (rows, _, _):
                frames = python_frames(enumerate(watched.records(rows)), fmt)
        else:  # a whole shard: Parquet (Polars, when its types allow) or a shard read with --map
            with shard_of(checks, unit) as data:
                frames = read_frames(data)
                for _ in watched.records(data.records()):
                    pass
        records, first, named, first_image = watched.seen, watched.first_tool, watched.named, watched.first_image
    part, _ = stats_part(frames, tokenizer=check_tokenizer(checks.tokenizer), rules=resolve_rules(checks.template),
                            max_length=checks.max_length, near_dup=checks.near_dup)
    part.tools = tally
    images = None
    if named:  # (a row that names an image holds `"image` in its line, a key or a part's type)
        with decoded_records(checks, unit, precise=False) as (rows, _, _):
            images = image_rows(rows, fmt, ImageChecks.beside(unit.path, checks.image_root))
    return UnitStats(part, records, frames.tools, first, checks.lines(unit), named, first_image, images)


class _Watched:
    """Records passed on as they are read, counted into `tally`, with the first that declares tools or makes calls."""

    def __init__(self, tally: ToolTally, fmt: Any, response: Any) -> None:
        self.tally, self.fmt, self.response, self.seen = tally, fmt, response, 0
        self.first_tool: int | None = None
        self.first_image: int | None = None
        self.named = False  # some row names an image

    def records(self, records: Iterator[Record]) -> Iterator[Record]:
        for record in records:
            if self.first_tool is None and isinstance(record.data, dict) and has_tool_fields(record.data):
                self.first_tool = self.seen
            sampled = self.first_image is None and self.seen < SAMPLE  # (one of the first rows, none naming one yet)
            if sampled or not self.named:
                raw = record.raw if isinstance(record.raw, bytes) else None
                by_data = names_image(record.data) if sampled or raw is None else False
                if sampled and by_data:
                    self.first_image = self.seen
                self.named = self.named or (NAMED in raw if raw is not None else by_data)
            self.tally.add(record.data, self.fmt, self.response)
            self.seen += 1
            yield record


class _UnitParts:
    """The C reader's parts of a unit (`validation.statistics.parts.Parts` reads a whole file): a plain shard's range
    mapped, a compressed shard decompressed block by block; `records` once they are read."""

    def __init__(self, checks: Checks, unit: Unit) -> None:
        self.checks, self.unit, self.records, self.named = checks, unit, 0, False

    def results(self) -> Iterator[tuple[Any, tuple]]:
        from validation import _rowscan
        from validation.statistics.parts import keys_of

        keys = keys_of(self.checks.fmt())
        first = self.unit.start == 0
        for chunk in self._chunks():
            part = _rowscan.read_messages(chunk, *keys, first, self.checks.limit)
            self.records += part[0]
            first = False
            yield chunk, part

    def _chunks(self) -> Iterator[Any]:
        from validation.checks.parallel import blocks
        from validation.statistics.parts import COMPRESSED_PART

        unit, path = self.unit, Path(self.unit.path)
        if compression_of(path) is None:  # a plain shard: its range (or the whole of it) mapped, never copied
            with readable(path), path.open("rb") as f:  # (the map outlives the file: the frames' strings are in it)
                end = os.fstat(f.fileno()).st_size if unit.end is None else unit.end
                if end == unit.start:
                    yield b""
                    return
                view = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
            self.named = view.find(NAMED, unit.start, end) >= 0
            yield memoryview(view)[unit.start:end]
            return
        with unit_bytes(unit) as (f, _):
            found = False
            for block in blocks(f, part=COMPRESSED_PART, limit=self.checks.limit):
                found = True
                self.named = self.named or NAMED in block
                yield block
            if not found:
                yield b""

    def __enter__(self) -> _UnitParts:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        pass


class MergeStats(PipelineStep):
    name = "merge stats"
    type = "instructkit"

    def __init__(self, folder: str, checks: Checks, dataset: str, progress: bool = False) -> None:
        super().__init__()
        self.folder, self.checks, self.dataset, self.progress = folder, checks, dataset, progress
        self.result: Any = None  # the statistics, once run

    def run(self, data: Any = None, rank: int = 0, world_size: int = 1) -> None:
        from validation.progress import count_bar

        folder = Path(self.folder)
        units = load_plan(folder).units
        found = []
        with count_bar(self.progress, "stats: merging the units", len(units)) as advance:
            for unit in units:
                with open(folder / "parts" / f"{unit.index:06d}.pkl", "rb") as f:
                    found.append(pickle.load(f))
                advance(1)
        self.result = stats = merged_stats(found, self.checks, self.dataset)
        payload = {"path": stats.name, "format": stats.format, **stats.summary.to_json()}
        put(folder / REPORT, json.dumps(payload, ensure_ascii=False, indent=1).encode())


def merged_stats(found: list[UnitStats], checks: Checks, name: str) -> Any:
    """The units' parts merged, in order, into the statistics `stats` gives for them as one file."""
    from validation.statistics.conversations import Stats
    from validation.statistics.summary import merge_parts, rendered_lengths, summarise
    from validation.summaries import StatsSummary

    if checks.fmt().preference:
        from validation.statistics.pairs import PairStats, merge_pair_parts, pair_summary

        pairs = merge_pair_parts([u.part for u in found])
        summary = pair_summary(pairs, checks.tokenizer is not None)
        return PairStats(name, checks.fmt().name, pairs.frame, summary, pairs.prompts)
    part = merge_parts([u.part for u in found])
    if all(u.tools_found is not None for u in found):  # every unit read by the C reader: it saw every row
        counting = any(u.tools_found for u in found)
    else:  # as `has_tools`: the first rows of the dataset decide
        start, counting = 0, False
        for u in found:
            counting = counting or (u.first_tool_record is not None and start + u.first_tool_record < TOOL_SAMPLE)
            start += u.records
    response = response_schema_of(checks.response_schema, checks.response_scope)
    tools, responses = part.tools.counts(counting, response) if part.tools is not None else (None, None)
    tokenizer = check_tokenizer(checks.tokenizer)
    rules = resolve_rules(checks.template)
    images = _images(found)
    summary = StatsSummary.model_validate(summarise(part, tokenizer=tokenizer is not None, rules=rules,
                                                    max_length=checks.max_length, tools=tools, responses=responses,
                                                    images=images[1] if images is not None else None))
    return Stats(name, checks.fmt().name, part.messages, summary, rendered_lengths(part),
                 images[0] if images is not None else None)


def _images(found: list[UnitStats]) -> tuple[Any, Any] | None:
    """(the image frame, the images section) of the units, as `stats` finds them in the shards joined into one file:
    when it names an image (JSONL shards, joined into a plain JSONL file: anywhere in their bytes, decompressed;
    else in the first `SAMPLE` rows), from every row; None when it names none, or no row stats reads holds one."""
    import polars as pl

    from validation.statistics.images import IMAGE_SCHEMA, image_counts

    if all(u.lines for u in found):
        named = any(u.named for u in found)
    else:
        start, named = 0, False
        for u in found:
            named = named or (u.first_image_record is not None and start + u.first_image_record < SAMPLE)
            start += u.records
    if not named:
        return None
    frames, roles, per_row, offset = [], Counter(), Counter(), 0
    for u in found:
        conversations = u.part.conversations.height
        if u.images is None:  # no row of the unit names an image: each of its rows holds none
            per_row.update({0: conversations} if conversations else {})
        else:
            frames.append(u.images[0].with_columns(pl.col("conversation") + offset))
            roles.update(u.images[1])
            per_row.update(u.images[2])
        offset += conversations
    frame = pl.concat(frames) if frames else pl.DataFrame(schema=IMAGE_SCHEMA)
    return (frame, image_counts(frame, roles, per_row)) if frame.height else None

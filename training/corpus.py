"""The corpus checks before a run (`near_dup:`, `decontaminate:` in the config): `validate`'s
--near-dup and --decontaminate over the whole dataset, once. Their findings are errors: with
`on_invalid: stop` the run stops with the report (`corpus.json`); with `drop`, the rows that pass
are written to `clean.jsonl` (byte for byte) and the run trains on that file."""

from __future__ import annotations

import json
from pathlib import Path

from training.config import DatasetConfig, TrainConfig
from training.errors import InvalidDataset
from training.steps import is_main_process, say, training_data, write_report
from validation.report import Console

CLEAN_FILE = "clean.jsonl"


def corpus_gate(config: TrainConfig, out: Path, console: Console | None = None) -> TrainConfig:
    """Run the corpus checks; the config to train with (its dataset `clean.jsonl` when rows were left out)."""
    from validation import validate
    from validation.checks.contamination import Benchmark
    from validation.checks.near_duplicates import NearDupOptions

    near = None if config.near_dup is None else NearDupOptions(**config.near_dup.model_dump())
    bench = config.decontaminate
    benchmark = None if bench is None else Benchmark.load(bench.path, field=bench.field, split=bench.split,
                                                          ngram=bench.ngram)
    clean = out / CLEAN_FILE
    with training_data(config) as data:
        fmt = data.format.name
        report = validate(data, near_dup=near, benchmark=benchmark, write_clean=clean,  # (every issue: rows below)
                          progress=is_main_process())
    write_report(out / "corpus.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
    found = []
    if report.near_duplicates is not None:
        found.append(f"{report.near_duplicates.dropped} near-duplicates in {report.near_duplicates.clusters} clusters")
    if report.contamination is not None:
        found.append(f"{report.contamination.contaminated} rows overlapping {report.contamination.benchmark}")
    say(console, f"corpus checks: {', '.join(found)}; {report.invalid} of {report.rows} rows with errors")
    if report.invalid and config.on_invalid == "stop":
        clean.unlink(missing_ok=True)
        raise InvalidDataset(report)
    if not report.invalid:
        clean.unlink(missing_ok=True)
        return config
    say(console, f"[yellow]training on the {report.valid} rows that pass ({CLEAN_FILE}; on_invalid: drop)[/]")
    cleaned = config.model_copy(update={"dataset": DatasetConfig(path=str(clean), format=fmt)})
    if config.mixture_sources:  # each row of clean.jsonl is still counted to its source
        invalid = {i.row for i in report.issues if i.severity == "error"}
        cleaned._mixture_sources = [s for row, s in enumerate(config.mixture_sources, start=1) if row not in invalid]
        cleaned._mixture_names = config.mixture_names
    return cleaned

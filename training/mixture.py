"""Several datasets trained as one: each source checked on its own, sampled by weight or row
count (seeded, reproducible), and written as one file the run then trains on as any dataset.

A source's `weight` is the share of its valid rows taken (TRL's `dataset_mixture` weights: 0.5
takes half of them; 2.0 takes every row twice), its `rows` an exact count (repeating rows when it
asks for more than there are). Each source is validated by itself (its report in
`sources/NN-NAME/validation.json`, where an error stops the run as for one dataset), converted to
the common format (`messages`, or `preference` / `unpaired` for pairs), sampled with the run's
`seed`, and described (`sources/NN-NAME/stats.json`); the mixture is shuffled with the same seed
and written to `mixture.jsonl`, with `mixture.json` saying how many rows of each source it holds.
The run's gate, audit and stats then run over the whole mixture, which also finds rows that repeat
across sources; its summary counts the rows of each source that were trained.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from training.config import ConfigError, DatasetConfig, MixtureSource, TrainConfig
from training.errors import InvalidDataset
from training.steps import is_main_process, plain, say, write_report
from validation.outputs import write_file
from validation.report import Console

MIXTURE_FILE = "mixture.jsonl"


@dataclass
class Mixture:
    """The mixture written: its file and format, each row's source name (row k + 1 of the file is
    `sources[k]`), and what each source gave (`mixture.json`'s entries)."""

    path: Path
    format: str
    sources: list[str]
    entries: list[dict[str, Any]]


def source_names(sources: Sequence[MixtureSource]) -> list[str]:
    """Each source's name: its `name`, else its file's stem (or the hub id's last part), made unique.

    Example:
        >>> source_names([MixtureSource(path="a/chat.jsonl"), MixtureSource(path="b/chat.jsonl"),
        ...               MixtureSource(path="openai/gsm8k", name="math")])
        ['chat', 'chat-2', 'math']
    """
    names: list[str] = []
    for source in sources:
        base = source.name or Path(source.path.rstrip("/")).name.split(".")[0] or "source"
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def sample(count: int, *, weight: float | None, rows: int | None, rng: random.Random) -> list[int]:
    """Indices of `count` rows to take: `rows` of them, or `weight` times `count` (rounded); every
    row as often as the whole part of the ratio, then a seeded sample of the rest, in row order.

    Example:
        >>> sample(4, weight=0.5, rows=None, rng=random.Random(0)), sample(2, weight=None, rows=5, rng=random.Random(0))
        ([1, 3], [0, 0, 1, 1, 1])
    """
    want = rows if rows is not None else round((weight if weight is not None else 1.0) * count)
    whole, rest = divmod(want, count) if count else (0, 0)
    return sorted([i for i in range(count) for _ in range(whole)] + rng.sample(range(count), rest))


def build(config: TrainConfig, out: Path, console: Console | None = None) -> tuple[TrainConfig, Mixture]:
    """Check, convert and sample each source of `config.dataset` (a list), write the mixture in
    `out`, and return the config that trains on it (its `dataset` the mixture file) and the mixture."""
    from validation import stats, validate
    from validation.convert import convert
    from validation.readers.source import dataset_of

    sources: list[MixtureSource] = config.dataset  # type: ignore[assignment]
    names = source_names(sources)
    rng = random.Random(config.seed)
    kinds, parts, entries = [], [], []
    for k, (source, name) in enumerate(zip(sources, names), start=1):
        folder = out / "sources" / f"{k:02d}-{re.sub(r'[^A-Za-z0-9._-]+', '_', name)}"
        folder.mkdir(parents=True, exist_ok=True)
        with dataset_of(source.path, format=source.format, column=source.column, split=source.split,
                        columns=source.columns, subset=source.subset) as data:
            kinds.append(data.format)
            clean = folder / "valid.jsonl"
            report = validate(data, write_clean=clean, max_issues=1000, progress=is_main_process())
        write_report(folder / "validation.json", json.dumps(report.to_json(), ensure_ascii=False, indent=1))
        say(console, f"source {plain(name)} ({plain(source.path)}): {report.rows} rows, {report.valid} valid, "
                     f"{report.invalid} invalid")
        if report.invalid and config.on_invalid == "stop":
            raise InvalidDataset(report)
        parts.append((source, name, folder, clean, report))
    target = _common_format(kinds, names)
    lines_of: list[list[bytes]] = []
    for source, name, folder, clean, report in parts:
        lines: list[bytes] = []
        if report.valid:  # (every row invalid under on_invalid: drop: the source gives none)
            converted = folder / f"{target}.jsonl"
            done = convert(clean, converted, to=target)
            if done.invalid:
                raise ConfigError(f"dataset {name}: {done.invalid} valid rows cannot be written as {target} "
                                  f"({done.issues[0].message}); give sources of one kind")
            lines = converted.read_bytes().splitlines(keepends=True)
            converted.unlink()
        picked = [lines[i] for i in sample(len(lines), weight=source.weight, rows=source.rows, rng=rng)]
        write_file(folder / "sampled.jsonl", b"".join(picked))  # (atomic: every process of a launch writes it alike)
        if picked:
            summary = stats(folder / "sampled.jsonl", format=target).summary
            write_report(folder / "stats.json", json.dumps(summary.to_json(), ensure_ascii=False, indent=1))
        lines_of.append(picked)
        entries.append({"name": name, "path": source.path, "format": report.format, "weight": source.weight,
                        "rows_asked": source.rows, "rows_read": report.rows, "valid": report.valid,
                        "sampled": len(picked), "distinct": len(set(picked)), "folder": folder.name})
    order = [(k, line) for k, lines in enumerate(lines_of) for line in lines]
    rng.shuffle(order)
    if not order:
        raise ConfigError("dataset: the mixture holds no row (every source sampled to none)")
    path = out / MIXTURE_FILE
    write_file(path, b"".join(line for _, line in order))
    mixture = Mixture(path, target, [names[k] for k, _ in order], entries)
    write_report(out / "mixture.json", json.dumps({"seed": config.seed, "format": target, "rows": len(order),
                                                   "sources": entries}, ensure_ascii=False, indent=1))
    say(console, "mixture: " + ", ".join(f"{plain(e['name'])} {e['sampled']:,}" for e in entries)
                 + f" = {len(order):,} rows ({target}, seed {config.seed})")
    return config.model_copy(update={"dataset": DatasetConfig(path=str(path), format=target)}), mixture


def _common_format(kinds: list[Any], names: list[str]) -> str:
    """The format every source converts to: messages for conversations, a pair format for pairs."""
    pairs = [fmt.preference for fmt in kinds]
    if any(pairs) and not all(pairs):
        mixed = ", ".join(f"{n} ({f.name})" for n, f in zip(names, kinds))
        raise ConfigError(f"dataset: the sources mix conversations and preference pairs ({mixed}); one run trains "
                          "one kind")
    if not any(pairs):
        odd = next(((n, f) for n, f in zip(names, kinds) if f.shape != "conversation"), None)
        if odd is not None:
            raise ConfigError(f"dataset {odd[0]}: a mixture mixes conversations; this source is {odd[1].name}")
        return "messages"
    return "unpaired" if any(fmt.name == "unpaired" for fmt in kinds) else "preference"


def audit_by_source(config: TrainConfig, report: Any, out: Path | None, console: Console | None = None) -> None:
    """The supervision audit of a mixture, per source: its rows and, per finding code, the rows of
    that source with it (`audit_by_source.json`; `audit.json` holds the findings themselves)."""
    if not config.mixture_sources or out is None:
        return
    names = [*dict.fromkeys([*config.mixture_names, *config.mixture_sources])]
    found: dict[str, dict[str, Any]] = {name: {"rows": 0, "rows_with": {}} for name in names}
    for name in config.mixture_sources:
        found[name]["rows"] += 1
    rows_with: dict[tuple[str, str], set[int]] = {}
    for issue in report.issues:
        if 0 < issue.row <= len(config.mixture_sources):
            rows_with.setdefault((config.mixture_sources[issue.row - 1], issue.code), set()).add(issue.row)
    for (name, code), rows in sorted(rows_with.items()):
        found[name]["rows_with"][code] = len(rows)
    write_report(out / "audit_by_source.json", json.dumps(found, ensure_ascii=False, indent=1))
    flagged = [f"{plain(name)}: " + ", ".join(f"{code} {n}" for code, n in v["rows_with"].items())
               for name, v in found.items() if v["rows_with"]]
    if flagged:
        say(console, "audit per source: " + "; ".join(flagged))


def trained_per_source(mixture_sources: Sequence[str], rows: Sequence[int],
                       names: Sequence[str] = ()) -> dict[str, int]:
    """How many of the trained rows (1-based rows of the mixture file) came from each source (each
    of `names` counted, none of whose rows may be left)."""
    counts = {name: 0 for name in dict.fromkeys([*names, *mixture_sources])}
    for row in rows:
        counts[mixture_sources[row - 1]] += 1
    return counts

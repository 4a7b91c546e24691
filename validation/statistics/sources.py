"""`stats A B C`: the statistics of several datasets (the sources of a mixture) side by side, with
the whole: every source converted to messages and described as one dataset, which also counts the
rows that repeat across sources."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from validation.readers.formats import PREFERENCE_NAMES
from validation.report import Console


@dataclass
class SourceStats:
    """Each source's statistics, and the whole's (None when the sources are not all conversations)."""

    sources: list[Any]
    whole: Any | None

    @property
    def repeated_across(self) -> int | None:
        """Rows of the whole that repeat a row of another source exactly (beyond repeats inside a source)."""
        if self.whole is None:
            return None
        return self.whole.summary.duplicates.exact - sum(s.summary.duplicates.exact for s in self.sources)

    def to_json(self) -> dict[str, Any]:
        return {"sources": [{"path": s.name, "format": s.format, **s.summary.to_json()} for s in self.sources],
                "all": None if self.whole is None else {"format": "messages", **self.whole.summary.to_json(),
                                                        "repeated_across_sources": self.repeated_across}}


def source_stats(paths: list[Any], open_source: Any, **options: Any) -> SourceStats:
    """`stats` of each source (`open_source(path)` opens it as the command line names it) and of
    all of them together when they are all conversations."""
    from validation.convert import convert
    from validation.statistics.conversations import stats

    found = []
    for path in paths:
        with open_source(path) as data:
            found.append(stats(data, **options))
    if any(s.format in PREFERENCE_NAMES for s in found):
        return SourceStats(found, None)
    with tempfile.TemporaryDirectory(prefix="instructkit-sources-") as tmp:
        whole = Path(tmp) / "all.jsonl"
        with whole.open("wb") as out:
            for k, path in enumerate(paths):
                part = Path(tmp) / f"{k}.jsonl"
                with open_source(path) as data:
                    convert(data, part, to="messages")
                if part.exists():
                    out.write(part.read_bytes())
        options = {k: v for k, v in options.items() if k not in ("format", "column", "split")} | {"progress": False}
        return SourceStats(found, stats(whole, format="messages", **options))


def render_sources(result: SourceStats, console: Console) -> None:
    """One table, a row per source and one for all of them."""
    from rich.table import Table
    from rich.text import Text

    table = Table(title="sources", title_justify="left")
    tokens = any(getattr(s.summary, "tokens", None) for s in result.sources)
    near = any(getattr(s.summary, "near_duplicates", None) for s in result.sources)
    columns = ["source", "format", "rows", "messages", "turns p50", "user chars p50", "assistant chars p50"]
    columns += ["tokens", "trainable"] if tokens else []
    columns += ["exact duplicates"] + (["near-dup clusters"] if near else [])
    for column in columns:
        table.add_column(column, justify="left" if column in ("source", "format") else "right")
    rows = [(s.name, s.format, s.summary) for s in result.sources]
    if result.whole is not None:
        rows.append(("all", "messages", result.whole.summary))
    for name, fmt, summary in rows:
        cells = [Text(name), fmt, f"{summary.rows:,}"]
        if hasattr(summary, "messages"):
            chars = summary.length_chars
            cells += [f"{summary.messages:,}", f"{summary.turns_per_conversation.get('p50') or 0:g}",
                      f"{chars['user']['p50']:g}" if "user" in chars else "-",
                      f"{chars['assistant']['p50']:g}" if "assistant" in chars else "-"]
            if tokens:
                cells += [f"{summary.tokens.total:,}", f"{summary.tokens.trainable_share:.1%}"] if summary.tokens \
                    else ["-", "-"]
            cells.append(f"{summary.duplicates.exact:,}")
            if near:
                cells.append(f"{summary.near_duplicates.clusters:,}" if summary.near_duplicates else "-")
        else:  # a preference source: its rows only
            cells += ["-"] * (len(columns) - 3)
        table.add_row(*cells)
    console.print(table)
    if result.whole is not None:
        console.print(f"rows repeating a row of another source: {result.repeated_across:,}")

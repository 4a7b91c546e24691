"""Dataset statistics: a Polars frame with one row per message, and the summary built from it.

`stats(source)` reads through `validation.statistics.frames` (a C reader for list-of-messages JSONL,
Polars for typed Parquet, the validation readers for the rest). Stats describe the
rows as they are: rows that cannot be normalised are counted in `skipped_rows`, and `validate`
is where problems are explained.

Example:
    >>> s = stats([{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}])
    >>> s.summary.rows, s.summary.roles
    (2, {'assistant': 2, 'user': 2})
"""

from __future__ import annotations

import os
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from validation.statistics.summary import rendered_lengths, stats_part, summarise
from validation.outputs import Paths
from validation.statistics.lazy import LazyModule
from validation.checks.rules import HasRules, TemplateRules
from validation.readers.source import Source, dataset_of, source_name
from validation.statistics.parts import Parts, c_readable
from validation.summaries import Leakage, StatsSummary
from validation.checks.tools import tool_counts
from validation.options import check_max_length, check_tokenizer, resolve_rules, response_schema_of
from validation.tokens import Tokenizer

if TYPE_CHECKING:
    import polars as pl

    from validation.statistics import frames as frame_reader
else:
    pl = LazyModule("polars")  # imported when stats runs, not by every command (validation.statistics.lazy)
    frame_reader = LazyModule("validation.statistics.frames")  # which imports Polars itself


@dataclass
class Stats:
    """`frame`: one row per message; `summary`: the documented report (docs/stats.md)."""

    name: str
    format: str
    frame: pl.DataFrame
    summary: StatsSummary
    # per conversation: messages, length, assistant_start, assistant_end, exact, folded (statistics/frames.py)
    conversations: pl.DataFrame = field(repr=False)
    # per image: conversation, format, width, height, digest (statistics/images.py); None without images
    images: pl.DataFrame | None = field(default=None, repr=False)

    def plot(self, path: str | os.PathLike[str], *, html: bool | None = None, inputs: Paths = ()) -> Path:
        """Write the length histograms as PNG, or a self-contained HTML report (`html`; by default
        for a `.html` path); never over the dataset described, nor over one of `inputs`
        (`validation.outputs`: `-` is stdout)."""
        from validation.statistics.report import plot

        return plot(self, path, html=html, inputs=inputs)

    compare_label = "B rows also in A: exact / normalised"

    def lines(self) -> list[tuple[str, str]]:
        """The overview, as (label, value) lines (terminal, comparison, HTML)."""
        from validation.statistics.report import overview_lines

        return overview_lines(self.summary)

    def show(self, console: Any) -> None:
        """Print the terminal tables."""
        from validation.statistics.report import show_conversations

        show_conversations(self, console)

    def figure(self, plt: Any) -> Any:
        """The length histograms, a matplotlib figure."""
        from validation.statistics.report import conversation_figure

        return conversation_figure(self, plt)


def stats(source: Source, *, tokenizer: Tokenizer | None = None, template: TemplateRules | HasRules | None = None,
          max_length: int | None = None, format: str | None = None, column: str | None = None,
          split: str = "train", audits: list[Any] | None = None, progress: bool = False,
          response_schema: Any = None, response_scope: str = "last", near_dup: Any = None,
          image_root: Any = None) -> Stats:
    """Statistics of `source`; tokens when `tokenizer` is given, trainable tokens with `template` too.
    Rows that declare tools or make calls add tool counts (`summary.tools`); `response_schema`
    (a JSON Schema or its file) counts the replies that validate (`summary.responses`); `near_dup`
    (True or `NearDupOptions`) clusters near-duplicate conversations as `validate` does and counts
    the clusters by size (`summary.near_duplicates`). Rows that hold images add their counts, formats and
    sizes (`summary.images`; relative paths from `image_root`, else the dataset's folder).

    `audits`: the template's audit of these same rows, in order, when the caller already has it
    (`train` does), so the rows are not rendered and tokenized a second time. `progress`: bars
    on stderr (a terminal only) while rows are read one by one, tokens counted and conversations
    rendered.

    For a list-of-messages JSONL file, the strings of `frame` are views into a memory map of the
    file: rewrite that file in place (truncating it) only once you are done with the result, or
    write a new file and rename it over the old one, as instructkit's own writers do; a read of
    a string whose page the truncation took away ends the process with SIGBUS.
    """
    max_length = check_max_length(max_length)
    response = response_schema_of(response_schema, response_scope)
    with dataset_of(source, format=format, column=column, split=split) as data:
        if data.format.preference:  # pairs: their own statistics (validation/statistics/pairs.py)
            from validation.statistics.pairs import pair_stats

            return pair_stats(data, tokenizer=check_tokenizer(tokenizer), progress=progress)  # type: ignore[return-value]
        # the C reader's threads start before the frames module imports Polars, numpy and pyarrow (0.2-0.3 s)
        with Parts(data) if c_readable(data) else nullcontext() as parts:
            frames = frame_reader.read_frames(data, progress=progress, parts=parts)
        tool_summary, responses = tool_counts(data, response, found=frames.tools)
        images = _images(data, image_root)
    tokenizer = check_tokenizer(tokenizer)
    rules = resolve_rules(template)
    part, frame = stats_part(frames, tokenizer=tokenizer, rules=rules, max_length=max_length, audits=audits,
                             progress=progress, near_dup=None if near_dup is False else near_dup)
    summary = StatsSummary.model_validate(summarise(
        part, tokenizer=tokenizer is not None, rules=rules, max_length=max_length, tools=tool_summary,
        responses=responses, images=images[1] if images is not None else None))
    per_conversation = rendered_lengths(part)  # (the template's rendered lengths, with one)
    return Stats(source_name(source), frames.format, frame, summary, per_conversation,
                 images[0] if images is not None else None)


def _images(data: Any, root: Any) -> tuple[pl.DataFrame, Any] | None:
    """(`image_frame`, `image_counts`) of a dataset whose rows hold images (None without any, or
    rows read once only)."""
    from validation.statistics.images import has_images, image_counts, image_frame

    if not data.rereadable or not has_images(data):
        return None
    frame, roles, per_row = image_frame(data, root)
    return (frame, image_counts(frame, roles, per_row)) if frame.height else None  # (no readable row names one)


def leakage(a: Stats, b: Stats) -> Leakage:
    """Rows of `b` that repeat a row of `a` (train/eval leakage), exactly and after folding."""
    return _repeats(a.conversations, b.conversations)


def leakage_of_rows(a: Sequence[Any], b: Sequence[Any]) -> Leakage:
    """`leakage` of conversations in memory (anything with `.messages` of `.role`/`.content`:
    train's audited rows), hashed as the stats readers hash them (`prover.hash_conversation`)."""
    from validation.checks.prover import hash_conversation

    def hashes(rows: Sequence[Any]) -> pl.DataFrame:
        pairs = [hash_conversation([m.role for m in r.messages], [m.content for m in r.messages]) for r in rows]
        return pl.DataFrame(pairs, schema={"exact": pl.UInt64, "folded": pl.UInt64}, orient="row")

    return _repeats(hashes(a), hashes(b))


def _repeats(a: pl.DataFrame, b: pl.DataFrame) -> Leakage:
    return Leakage(b_rows_in_a_exact=int(b["exact"].is_in(a["exact"].implode()).sum()),
                   b_rows_in_a_normalised=int(b["folded"].is_in(a["folded"].implode()).sum()))



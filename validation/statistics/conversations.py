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

from validation.statistics.supervision import Supervision
from validation.errors import InputError
from validation.outputs import Paths
from validation.statistics.lazy import LazyModule
from validation.checks.rules import HasRules, TemplateRules
from validation.tokens import count_tokens
from validation.readers.source import Source, dataset_of, source_name
from validation.statistics.parts import Parts, c_readable
from validation.report import Findings
from validation.summaries import Leakage, NearDupSummary, StatsSummary
from validation.checks.tools import tool_counts
from validation.progress import count_bar
from validation.options import check_max_length, check_tokenizer, resolve_rules, response_schema_of
from validation.tokens import Tokenizer

if TYPE_CHECKING:
    import polars as pl

    from validation.statistics import frames as frame_reader
else:
    pl = LazyModule("polars")  # imported when stats runs, not by every command (validation.statistics.lazy)
    frame_reader = LazyModule("validation.statistics.frames")  # which imports Polars itself

QUANTILES = (0.5, 0.9, 0.99)


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


# --- the summary -----------------------------------------------------------------------------

def _distribution(column: pl.Expr) -> list[pl.Expr]:
    return [column.quantile(q, "linear").alias(f"p{int(q * 100)}") for q in QUANTILES] + \
        [column.max().alias("max"), column.mean().alias("mean")]


def _per_role(frame: pl.DataFrame, value: str) -> dict[str, dict[str, float]]:
    table = frame.group_by("role").agg(_distribution(pl.col(value))).sort("role")
    return {row.pop("role"): {k: _num(v) for k, v in row.items()} for row in table.iter_rows(named=True)}


def _num(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _duplicates(conversations: pl.DataFrame) -> dict[str, int]:
    """Rows that repeat an earlier row exactly, and after folding (exact repeats included)."""
    return {"exact": conversations.height - conversations["exact"].n_unique(),
            "normalised": conversations.height - conversations["folded"].n_unique()}


NEAR_BATCH = 8192  # conversations hashed at once


def _near_duplicates(frame: pl.DataFrame, options: Any) -> NearDupSummary:
    """The near-duplicate clusters of the conversations (their messages' contents in the scope)."""
    from validation.checks.near_duplicates import NearDuplicates

    near = NearDuplicates("", options)
    scope = near.options.scope
    texts = (frame if scope == "conversation" else frame.filter(pl.col("role") == scope)).group_by(
        "conversation", maintain_order=True).agg(pl.col("content").str.join("\n"))
    for start in range(0, texts.height, NEAR_BATCH):
        part = texts.slice(start, NEAR_BATCH)
        near.add_texts(part["conversation"].to_list(), part["content"].to_list())
    return near.resolve(Findings(keep=0))


def _truncation(conversations: pl.DataFrame, unit: str, limit: int, supervision: Supervision | None) -> dict[str, Any]:
    if supervision is not None:
        lose = sum(t > kept for t, kept in zip(supervision.trained, supervision.trained_before_limit))
        lose_all = sum(t > 0 and kept == 0 for t, kept in zip(supervision.trained, supervision.trained_before_limit))
        return {"limit": limit, "unit": "tokens (rendered)", "over": sum(n > limit for n in supervision.lengths),
                "lose_assistant_tokens": lose, "lose_all_assistant_tokens": lose_all}
    # The last assistant turn ends past the limit: some trained tokens are cut; the first one
    # starts at or past it: all of them are.
    counts = conversations.select((pl.col("length") > limit).sum().alias("over"),
                                  (pl.col("assistant_end") > limit).sum().alias("lose"),
                                  (pl.col("assistant_start") >= limit).sum().alias("lose_all")).row(0)
    return {"limit": limit, "unit": unit, "over": int(counts[0]), "lose_assistant_tokens": int(counts[1]),
            "lose_all_assistant_tokens": int(counts[2])}


def _system_prompts(frame: pl.DataFrame, top: int = 5) -> dict[str, Any]:
    system = frame.filter(pl.col("role") == "system")
    counts = system.group_by("content").len().sort(["len", "content"], descending=[True, False])
    return {"conversations_with_system": int(system["conversation"].n_unique()),
            "distinct": counts.height,
            "top": [{"prompt": p, "count": n} for p, n in counts.head(top).iter_rows()]}


AUDIT_BATCH = 4096  # conversations rendered and tokenized at a time: their audits are not kept


def _supervision(frame: pl.DataFrame, messages_per_conversation: list[int], rules: TemplateRules, tokenizer: Tokenizer,
                 limit: int | None, progress: bool) -> Supervision:
    """Each conversation's supervision under the template (its audit hook), batch by batch."""
    if rules.audit is None:
        raise InputError(f"template {rules.name} cannot tokenize: its rules carry no audit (pass the template itself: "
                         "templating.get_template(name))")
    tally, start = Supervision(limit), 0
    with count_bar(progress, f"rendering and tokenizing with {rules.name}", len(messages_per_conversation)) as advance:
        for first in range(0, len(messages_per_conversation), AUDIT_BATCH):
            rows = sum(messages_per_conversation[first:first + AUDIT_BATCH])
            conversations = [[_message(m) for m in c] for c in frame.slice(start, rows).group_by(
                "conversation", maintain_order=True).agg(pl.struct("role", "content", "reasoning", "reasoning_source")
                                                         .alias("messages"))["messages"].to_list()]
            tally.add(rules.audit(conversations, tokenizer, None, "truncate"))
            start += rows
            advance(len(conversations))
    return tally


def _message(m: dict[str, Any]) -> dict[str, Any]:
    """A frame row as the message the template renders: its reasoning back in its own field."""
    message = {"role": m["role"], "content": m["content"]}
    if m["reasoning_source"] is not None:
        message[m["reasoning_source"]] = m["reasoning"]
    return message


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
    frame, per_conversation = frames.messages, frames.conversations
    tokenizer = check_tokenizer(tokenizer)
    rules = resolve_rules(template)
    unit = "tokens" if tokenizer is not None else "chars"
    if tokenizer is not None:
        with count_bar(progress, "counting tokens", frame.height) as advance:
            counts = count_tokens(frame["content"].to_list(), tokenizer, advance=advance)
        frame = frame.with_columns(tokens=pl.Series(counts, dtype=pl.UInt32))
        lengths = frame_reader.conversation_frame(frame, unit).select("length", "assistant_start", "assistant_end")
        per_conversation = per_conversation.with_columns(lengths)
    supervision = None
    if audits is not None:
        supervision = Supervision(max_length)
        supervision.add(audits)
    elif rules is not None and tokenizer is not None:
        supervision = _supervision(frame, per_conversation["messages"].to_list(), rules, tokenizer, max_length,
                                   progress)
    turns = per_conversation["messages"]
    histogram = turns.value_counts().sort("messages")
    summary = StatsSummary.model_validate({
        "rows": per_conversation.height, "skipped_rows": frames.skipped, "messages": frame.height,
        "turns_per_conversation": {**{k: _num(v) for k, v in per_conversation.select(
            _distribution(pl.col("messages"))).row(0, named=True).items()},
            "min": int(turns.min()) if turns.len() else None,
            "histogram": {str(k): int(v) for k, v in histogram.iter_rows()}},
        "roles": {r: int(n) for r, n in frame.group_by("role").len()
                  .sort(["len", "role"], descending=[True, False]).iter_rows()},  # ties: by name
        "length_chars": _per_role(frame, "chars"),
        "length_tokens": _per_role(frame, "tokens") if tokenizer is not None else None,
        "tokens": _token_totals(frame, supervision) if tokenizer is not None else None,
        "max_length": _truncation(per_conversation, unit, max_length, supervision) if max_length is not None else None,
        "duplicates": _duplicates(per_conversation),
        "empty_messages": frames.empty,
        "whitespace_messages": frames.whitespace,
        "system_prompts": _system_prompts(frame),
        "supervision": supervision.summary() if supervision is not None else None,
        "tools": tool_summary, "responses": responses,
        "reasoning": _reasoning(frame, per_conversation.height, tokenizer, rules, frames.reasoning),
        "near_duplicates": None if near_dup is None or near_dup is False else
        _near_duplicates(frame, None if near_dup is True else near_dup),
        "images": images[1] if images is not None else None,
    })
    if supervision is not None:  # the rendered length, which is what max_length truncates
        per_conversation = per_conversation.with_columns(length=pl.Series(supervision.lengths, dtype=pl.UInt32))
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


def _reasoning(frame: pl.DataFrame, rows: int, tokenizer: Tokenizer, rules: TemplateRules | None,
               known: bool | None = None) -> dict[str, Any] | None:
    """The reasoning section: replies with and without reasoning, reasoning vs answer in chars (and
    tokens), per row and overall, and what the template leaves out. None when no reply reasons
    (`known`: whether one does, when the reader could tell)."""
    if not (known if known is not None else frame_reader.reasoning_replies(frame)):
        return None  # no reply reasons: the replies are not split (a copy of every reply's text)
    replies = frame_reader.reasoning_split(frame)  # a reply that reasons has a reasoning here
    has = pl.col("reasoning").is_not_null()
    replies = replies.with_columns(reasoning_chars=pl.col("reasoning").str.len_chars().fill_null(0),
                                   answer_chars=pl.col("answer").str.len_chars())
    unit = "chars"
    if tokenizer is not None:
        reasoning = count_tokens(replies["reasoning"].fill_null("").to_list(), tokenizer)
        answer = count_tokens(replies["answer"].to_list(), tokenizer)
        replies = replies.with_columns(reasoning_tokens=pl.Series(reasoning, dtype=pl.Int64),
                                       answer_tokens=pl.Series(answer, dtype=pl.Int64))
        unit = "tokens"

    def totals(kind: str) -> dict[str, int | float]:
        r, a = int(replies[f"reasoning_{kind}"].sum()), int(replies[f"answer_{kind}"].sum())
        return {"reasoning": r, "answer": a, "reasoning_share": round(r / (r + a), 4) if r + a else 0.0}

    per_row = (replies.group_by("conversation").agg(pl.col(f"reasoning_{unit}").sum().alias("r"),
                                                    pl.col(f"answer_{unit}").sum().alias("a"), has.any().alias("has"))
               .filter("has").select(share=pl.col("r") / (pl.col("r") + pl.col("a")).clip(1)))
    share = per_row["share"]
    with_reasoning = replies.filter(has)
    dropped = None
    if rules is not None and rules.reasoning is not None:
        lost = with_reasoning.filter((pl.col("source") != "inline") & (pl.col("source") != (rules.reasoning.field or "")))
        dropped = {"template": rules.name, "replies": lost.height, "chars": int(lost["reasoning_chars"].sum())}
    return {"unit": unit, "replies": replies.height, "replies_with_reasoning": with_reasoning.height,
            "rows_with_reasoning": per_row.height, "rows_without_reasoning": rows - per_row.height,
            "sources": {k: int(v) for k, v in with_reasoning.group_by("source").len().sort("source").iter_rows()},
            "chars": totals("chars"), "tokens": totals("tokens") if tokenizer is not None else None,
            "reasoning_share_per_row": {"p50": _num(share.quantile(0.5, "linear")),
                                        "p90": _num(share.quantile(0.9, "linear")), "max": _num(share.max())},
            "reasoning_per_reply": {k: _num(v) for k, v in with_reasoning.select(
                _distribution(pl.col(f"reasoning_{unit}"))).row(0, named=True).items()},
            "dropped_by_template": dropped}


def _token_totals(frame: pl.DataFrame, supervision: Supervision | None) -> dict[str, Any]:
    by_role = {r: int(n) for r, n in frame.group_by("role").agg(pl.col("tokens").sum()).sort("role").iter_rows()}
    if supervision is not None:
        total, trainable, method = sum(supervision.lengths), sum(supervision.trained), "template"
    else:
        total, trainable, method = sum(by_role.values()), by_role.get("assistant", 0), "roles"
    return {"total": total, "trainable": trainable, "trainable_share": round(trainable / total, 4) if total else 0.0,
            "by_role": by_role, "method": method}


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



"""`stats`' summary, built from parts that hold no message's text.

A part (`StatsPart`) is what some rows give the summary: per message its role and length, per
conversation its numbers and duplicate hashes, the system prompts and how often each occurs,
per reply its reasoning and answer lengths, the template's supervision numbers. `summarise`
merges parts and builds the summary: `stats` gives it one part, the whole dataset; a sharded
`stats` (validation/scale/stats.py) one part per unit, each made by its own task. The summary is
the same either way: counts and hashes add up, and every distribution is computed over the merged
lengths, exactly.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from validation.checks.rules import TemplateRules
from validation.errors import InputError
from validation.progress import count_bar
from validation.report import Findings
from validation.statistics.lazy import LazyModule
from validation.statistics.supervision import Supervision
from validation.tokens import Tokenizer, count_tokens

if TYPE_CHECKING:
    import polars as pl

    from validation.checks.near_duplicates import NearDuplicates, NearDupOptions
    from validation.checks.tools import ToolTally
    from validation.statistics import frames as frame_reader
    from validation.statistics.frames import Frames
else:
    pl = LazyModule("polars")  # (validation.statistics.lazy)
    frame_reader = LazyModule("validation.statistics.frames")

QUANTILES = (0.5, 0.9, 0.99)
MESSAGE_COLUMNS = ("conversation", "turn", "role", "chars", "tokens")  # what a part keeps of the message frame
AUDIT_BATCH = 4096  # conversations rendered and tokenized at a time: their audits are not kept


@dataclass
class StatsPart:
    """What some rows give `stats`' summary, without their text. Conversation ids are the part's own (merged parts
    are renumbered after one another); lengths are in tokens when a tokenizer counted them, else characters."""

    messages: pl.DataFrame  # MESSAGE_COLUMNS (tokens with a tokenizer)
    conversations: pl.DataFrame  # frames.CONVERSATION_SCHEMA
    skipped: int
    empty: int
    whitespace: int
    system: pl.DataFrame  # each system prompt of the part (content) and how often it occurs (len)
    system_conversations: int  # conversations with a system message
    replies: pl.DataFrame | None  # `reply_lengths`; None when no reply of the part reasons
    supervision: Supervision | None = None
    tools: ToolTally | None = None  # the part's rows' tool and reply counts, when counted
    near: NearDuplicates | None = None  # with near_dup: the band keys of its conversations, to be clustered


def stats_part(frames: Frames, *, tokenizer: Tokenizer | None = None, rules: TemplateRules | None = None,
               max_length: int | None = None, audits: list[Any] | None = None, progress: bool = False,
               near_dup: NearDupOptions | bool | None = None) -> tuple[StatsPart, pl.DataFrame]:
    """(the part `frames` give, their message frame with its `tokens` column when `tokenizer` counts them; the part's
    conversation frame has its lengths in tokens then). `rules` with `tokenizer`, or `audits` (the template's audits of
    these rows, in order), add the supervision numbers; `near_dup` (True or its options) the band keys of the
    conversations' texts, which `summarise` clusters as `validate --near-dup` does."""
    frame, per_conversation = frames.messages, frames.conversations
    if tokenizer is not None:
        with count_bar(progress, "counting tokens", frame.height) as advance:
            counts = count_tokens(frame["content"].to_list(), tokenizer, advance=advance)
        frame = frame.with_columns(tokens=pl.Series(counts, dtype=pl.UInt32))
        lengths = frame_reader.conversation_frame(frame, "tokens").select("length", "assistant_start", "assistant_end")
        per_conversation = per_conversation.with_columns(lengths)
    supervision = None
    if audits is not None:
        supervision = Supervision(max_length)
        supervision.add(audits)
    elif rules is not None and tokenizer is not None:
        supervision = _supervision(frame, per_conversation["messages"].to_list(), rules, tokenizer, max_length,
                                   progress)
    system = frame.filter(pl.col("role") == "system")
    reasons = frames.reasoning if frames.reasoning is not None else frame_reader.reasoning_replies(frame) > 0
    part = StatsPart(frame.select([c for c in MESSAGE_COLUMNS if c in frame.columns]), per_conversation,
                     frames.skipped, frames.empty, frames.whitespace, system.group_by("content").len(),
                     int(system["conversation"].n_unique()), reply_lengths(frame, tokenizer) if reasons else None,
                     supervision, near=None if near_dup is None else _near_keys(frame, near_dup))
    return part, frame


NEAR_BATCH = 8192  # conversations hashed at once


def _near_keys(frame: pl.DataFrame, options: NearDupOptions | bool) -> NearDuplicates:
    """The band keys of the conversations (their messages' contents in the options' scope, joined by newlines)."""
    from validation.checks.near_duplicates import NearDuplicates

    near = NearDuplicates("", None if options is True else options)  # type: ignore[arg-type]
    scope = near.options.scope
    texts = (frame if scope == "conversation" else frame.filter(pl.col("role") == scope)).group_by(
        "conversation", maintain_order=True).agg(pl.col("content").str.join("\n"))
    for start in range(0, texts.height, NEAR_BATCH):
        part = texts.slice(start, NEAR_BATCH)
        near.add_texts(part["conversation"].to_list(), part["content"].to_list())
    return near


def reply_lengths(frame: pl.DataFrame, tokenizer: Tokenizer | None) -> pl.DataFrame:
    """Per assistant message: conversation, source (of its reasoning; null without), the reasoning's and the
    answer's length in characters (and tokens with `tokenizer`), as `frames.reasoning_split` splits them."""
    replies = frame_reader.reasoning_split(frame).with_columns(
        reasoning_chars=pl.col("reasoning").str.len_chars().fill_null(0), answer_chars=pl.col("answer").str.len_chars())
    if tokenizer is not None:
        reasoning = count_tokens(replies["reasoning"].fill_null("").to_list(), tokenizer)
        answer = count_tokens(replies["answer"].to_list(), tokenizer)
        replies = replies.with_columns(reasoning_tokens=pl.Series(reasoning, dtype=pl.Int64),
                                       answer_tokens=pl.Series(answer, dtype=pl.Int64))
    return replies.with_columns(has=pl.col("reasoning").is_not_null()).drop("reasoning", "answer")


def _replies_without_reasoning(messages: pl.DataFrame, tokenizer: bool) -> pl.DataFrame:
    """`reply_lengths` of a part none of whose replies reasons: its assistant messages' lengths, all answer."""
    columns = [pl.col("conversation"), pl.lit(None, pl.String).alias("source"),
               pl.lit(0, pl.UInt32).alias("reasoning_chars"), pl.col("chars").alias("answer_chars")]
    if tokenizer:
        columns += [pl.lit(0, pl.Int64).alias("reasoning_tokens"),
                    pl.col("tokens").cast(pl.Int64).alias("answer_tokens")]
    return messages.filter(pl.col("role") == "assistant").select(*columns, has=pl.lit(False))


def merge_parts(parts: Sequence[StatsPart]) -> StatsPart:
    """The parts as one, their conversations numbered after one another in the parts' order."""
    if len(parts) == 1:
        return parts[0]
    messages, conversations, replies, supervision, tools, near, offset = [], [], [], None, None, None, 0
    reasons = any(p.replies is not None for p in parts)
    tokenized = "tokens" in parts[0].messages.columns
    for p in parts:
        shift = pl.col("conversation") + offset
        messages.append(p.messages.with_columns(shift))
        conversations.append(p.conversations.with_columns(shift))
        if reasons:
            own = p.replies if p.replies is not None else _replies_without_reasoning(p.messages, tokenized)
            replies.append(own.with_columns(shift))
        if p.supervision is not None:
            supervision = p.supervision if supervision is None else supervision.extend(p.supervision)
        if p.tools is not None:
            tools = p.tools if tools is None else tools.merge(p.tools)
        if p.near is not None:
            rows, keys = p.near.take()
            near = p.near if near is None else near
            near.extend([row + offset for row in rows], keys)
        ids = p.conversations["conversation"]
        offset += int(ids.max()) + 1 if ids.len() else 0  # type: ignore[operator]
    system = pl.concat([p.system for p in parts]).group_by("content").agg(pl.col("len").sum())
    return StatsPart(pl.concat(messages, how="vertical_relaxed"), pl.concat(conversations),
                     sum(p.skipped for p in parts), sum(p.empty for p in parts), sum(p.whitespace for p in parts),
                     system, sum(p.system_conversations for p in parts),
                     pl.concat(replies, how="vertical_relaxed") if reasons else None, supervision, tools, near)


def summarise(part: StatsPart, *, tokenizer: bool, rules: TemplateRules | None, max_length: int | None,
              **sections: Any) -> dict[str, Any]:
    """The summary's fields (`StatsSummary`) of `part` (`merge_parts`' of several); `tokenizer`: whether its
    lengths are tokens; `sections`: tools, responses and images, as computed elsewhere. Its near-duplicate keys are
    clustered here (once: they are used up)."""
    frame, per_conversation, supervision = part.messages, part.conversations, part.supervision
    turns = per_conversation["messages"]
    histogram = turns.value_counts().sort("messages")
    return {
        "rows": per_conversation.height, "skipped_rows": part.skipped, "messages": frame.height,
        "turns_per_conversation": {**{k: _num(v) for k, v in per_conversation.select(
            _distribution(pl.col("messages"))).row(0, named=True).items()},
            "min": int(turns.min()) if turns.len() else None,  # type: ignore[arg-type]
            "histogram": {str(k): int(v) for k, v in histogram.iter_rows()}},
        "roles": {r: int(n) for r, n in frame.group_by("role").len()
                  .sort(["len", "role"], descending=[True, False]).iter_rows()},  # ties: by name
        "length_chars": _per_role(frame, "chars"),
        "length_tokens": _per_role(frame, "tokens") if tokenizer else None,
        "tokens": _token_totals(frame, supervision) if tokenizer else None,
        "max_length": _truncation(per_conversation, "tokens" if tokenizer else "chars", max_length, supervision)
        if max_length is not None else None,
        "duplicates": _duplicates(per_conversation),
        "empty_messages": part.empty,
        "whitespace_messages": part.whitespace,
        "system_prompts": _system_prompts(part.system, part.system_conversations),
        "supervision": supervision.summary() if supervision is not None else None,
        "reasoning": _reasoning(part.replies, per_conversation.height, tokenizer, rules),
        "near_duplicates": part.near.resolve(Findings(keep=0)) if part.near is not None else None,
        **sections,
    }


def rendered_lengths(part: StatsPart) -> pl.DataFrame:
    """The part's conversation frame, its lengths the template's rendered ones when it has supervision numbers (what
    max_length truncates, and what the figure shows)."""
    if part.supervision is None:
        return part.conversations
    return part.conversations.with_columns(length=pl.Series(part.supervision.lengths, dtype=pl.UInt32))


# --- the summary's sections --------------------------------------------------------------------

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


def _system_prompts(counts: pl.DataFrame, conversations: int, top: int = 5) -> dict[str, Any]:
    """From each system prompt (content) and how often it occurs (len)."""
    ranked = counts.sort(["len", "content"], descending=[True, False])
    return {"conversations_with_system": conversations, "distinct": ranked.height,
            "top": [{"prompt": p, "count": int(n)} for p, n in ranked.head(top).iter_rows()]}


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


def _reasoning(replies: pl.DataFrame | None, rows: int, tokenizer: bool,
               rules: TemplateRules | None) -> dict[str, Any] | None:
    """The reasoning section from `reply_lengths`: replies with and without reasoning, reasoning vs answer in chars
    (and tokens), per row and overall, and what the template leaves out. None when no reply reasons."""
    if replies is None:
        return None
    has = pl.col("has")
    unit = "tokens" if tokenizer else "chars"

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
            "chars": totals("chars"), "tokens": totals("tokens") if tokenizer else None,
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

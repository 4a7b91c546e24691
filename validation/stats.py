"""Dataset statistics: a Polars frame with one row per message, and the summary built from it.

`stats(source)` reads JSONL and Parquet in the `messages`, `qa` and `text` formats straight into
Polars (Rust, multithreaded, lazily); other sources go through the validation readers. Stats
describe the rows as they are: rows that cannot be normalised are counted in `skipped_rows`,
and `validate` is where problems are explained.

Example:
    >>> s = stats([{"question": "1+1?", "answer": "2"}, {"question": "2+2?", "answer": "4"}])
    >>> s.summary["rows"], s.summary["roles"]
    (2, {'user': 2, 'assistant': 2})
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import polars as pl

from validation.audit import summarise
from validation.formats import Format, FormatError
from validation.io import InputError, kind_of
from validation.rules import TemplateRules
from validation.scan import fold
from validation.validate import Source, _is_path, _name, load_tokenizer, open_source, resolve_rules

QUANTILES = (0.5, 0.9, 0.99)
SEP = "\x1f"
# Rows are in conversation order, turns in order within each: every builder keeps that invariant.
FRAME_SCHEMA = {"conversation": pl.UInt32, "turn": pl.UInt16, "role": pl.String, "content": pl.String}


@dataclass
class Stats:
    """`frame`: one row per message; `summary`: the documented report (docs/stats.md)."""

    name: str
    format: str
    frame: pl.DataFrame
    summary: dict[str, Any]
    conversations: pl.DataFrame = field(repr=False)  # per conversation: messages, length, exact, folded

    def plot(self, path: str | os.PathLike[str]) -> Path:
        """Write the length histograms as PNG (or self-contained HTML for a `.html` path)."""
        from validation.stats_report import write_html, write_png

        path = Path(path)
        return write_html(self, path) if path.suffix.lower() == ".html" else write_png(self, path)


# --- building the frame ----------------------------------------------------------------------

def _polars_source(source: Source, fmt: Format) -> pl.LazyFrame | None:
    """A lazy frame of (conversation, turn, role, content) read by Polars, when it can read it."""
    if not _is_path(source) or fmt.name not in ("messages", "qa", "text"):
        return None
    kind = kind_of(source)
    path = os.fspath(source)
    if fmt.name == "messages":
        schema = {fmt.column: pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}
    elif fmt.name == "qa":
        schema = {"question": pl.String, "answer": pl.String}
    else:
        schema = {fmt.column: pl.String}
    if kind == "jsonl":
        lazy = pl.scan_ndjson(path, schema=schema)
    elif kind == "parquet":
        lazy = pl.scan_parquet(path).select(list(schema))
    else:
        return None
    lazy = lazy.with_row_index("conversation")
    if fmt.name == "qa":
        lazy = lazy.select("conversation", pl.concat_list(
            pl.struct(role=pl.lit("user"), content=pl.col("question")),
            pl.struct(role=pl.lit("assistant"), content=pl.col("answer"))).alias("messages"))
    elif fmt.name == "text":
        lazy = lazy.select("conversation", pl.concat_list(
            pl.struct(role=pl.lit("assistant"), content=pl.col(fmt.column))).alias("messages"))
    else:
        lazy = lazy.select("conversation", pl.col(fmt.column).alias("messages"))
    return lazy


def _explode(rows: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(one row per message, rows holding no message) from (conversation, messages) rows."""
    kept = rows.filter(pl.col("messages").list.len() > 0)
    frame = (kept.explode("messages").unnest("messages")
             .with_columns(turn=pl.int_range(pl.len()).over("conversation").cast(pl.UInt16))
             .select(list(FRAME_SCHEMA)).cast(FRAME_SCHEMA))  # type: ignore[arg-type]
    return frame, rows.height - kept.height


def _python_frame(records: Iterable[Any], fmt: Format) -> tuple[pl.DataFrame, int]:
    """The frame built row by row through the validation readers; rows that cannot be read are counted."""
    columns: dict[str, list[Any]] = {name: [] for name in FRAME_SCHEMA}
    skipped = 0
    for conversation, record in enumerate(records):
        data = record.data
        try:
            messages = fmt.to_messages(data) if isinstance(data, dict) else None
        except FormatError:
            messages = None
        if not messages or not all(isinstance(m, dict) and isinstance(m.get("role"), str)
                                   and isinstance(m.get("content"), str) for m in messages):
            skipped += 1
            continue
        for turn, message in enumerate(messages):
            columns["conversation"].append(conversation)
            columns["turn"].append(turn)
            columns["role"].append(message["role"])
            columns["content"].append(message["content"])
    return pl.DataFrame(columns, schema=FRAME_SCHEMA), skipped


def message_frame(source: Source, *, format: str | None = None, column: str | None = None,
                  split: str = "train") -> tuple[pl.DataFrame, str, int]:
    """(frame, format name, skipped rows) with columns conversation, turn, role, content, chars."""
    fmt, records = open_source(source, format=format, column=column, split=split)
    frame, skipped = None, 0
    lazy = _polars_source(source, fmt)
    if lazy is not None:
        try:
            frame, skipped = _explode(lazy.collect())
        except pl.exceptions.PolarsError:  # a malformed line: read row by row instead
            frame = None
    if frame is None:
        fmt, records = open_source(source, format=fmt.name, column=column, split=split)
        frame, skipped = _python_frame(records, fmt)
    return frame.with_columns(chars=pl.col("content").str.len_chars()), fmt.name, skipped


def count_tokens(texts: list[str], tokenizer: Any, batch: int = 65536) -> list[int]:
    """Token counts of `texts` (no special tokens) in batched, multithreaded tokenizer calls."""
    backend = getattr(tokenizer, "backend_tokenizer", tokenizer)
    encode = getattr(backend, "encode_batch_fast", None) or backend.encode_batch
    counts: list[int] = []
    for start in range(0, len(texts), batch):
        counts += [len(e.ids) for e in encode(texts[start:start + batch], add_special_tokens=False)]
    return counts


# --- the summary -----------------------------------------------------------------------------

def _distribution(column: pl.Expr) -> list[pl.Expr]:
    return [column.quantile(q, "linear").alias(f"p{int(q * 100)}") for q in QUANTILES] + \
        [column.max().alias("max"), column.mean().alias("mean")]


def _per_role(frame: pl.DataFrame, value: str) -> dict[str, dict[str, float]]:
    table = frame.group_by("role").agg(_distribution(pl.col(value))).sort("role")
    return {row.pop("role"): {k: _num(v) for k, v in row.items()} for row in table.iter_rows(named=True)}


def _num(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def _conversations(frame: pl.DataFrame, unit: str) -> pl.DataFrame:
    """Per conversation: messages, length in `unit`, and exact and folded 64-bit hashes.

    A conversation's hash is the hash of the ordered list of its messages' (role, content)
    hashes; the folded one lower-cases, collapses whitespace runs and trims each message first
    (only messages with a whitespace run or a non-space whitespace character need the rewrite).
    """
    folded = fold(pl.col("content"))
    return (frame.lazy()
            .select("conversation", unit, pl.struct("role", "content").hash(0).alias("exact"),
                    pl.struct(pl.col("role"), folded.alias("content")).hash(0).alias("folded"))
            .group_by("conversation")
            .agg(pl.len().alias("messages"), pl.col(unit).sum().alias("length"), "exact", "folded")
            .with_columns(pl.col("exact").hash(0), pl.col("folded").hash(0))
            .sort("conversation").collect())


def _duplicates(conversations: pl.DataFrame) -> dict[str, int]:
    """Rows that repeat an earlier row exactly, and after folding (exact repeats included)."""
    return {"exact": conversations.height - conversations["exact"].n_unique(),
            "normalised": conversations.height - conversations["folded"].n_unique()}


def _truncation(frame: pl.DataFrame, unit: str, limit: int, masks: list[list[int]] | None) -> dict[str, Any]:
    if masks is not None:
        lose = [sum(m[limit:]) > 0 for m in masks]
        lose_all = [sum(m) > 0 and sum(m[:limit]) == 0 for m in masks]
        over = [len(m) > limit for m in masks]
        return {"limit": limit, "unit": "tokens (rendered)", "over": sum(over),
                "lose_assistant_tokens": sum(lose), "lose_all_assistant_tokens": sum(lose_all)}
    ends = frame.with_columns(end=pl.col(unit).cum_sum().over("conversation"))  # frame is in turn order
    ends = ends.with_columns(start=pl.col("end") - pl.col(unit))
    per = ends.group_by("conversation").agg(
        (pl.col("end").max() > limit).alias("over"),
        ((pl.col("role") == "assistant") & (pl.col("end") > limit)).any().alias("lose"),
        ((pl.col("role") == "assistant").any() &
         ((pl.col("role") != "assistant") | (pl.col("start") >= limit)).all()).alias("lose_all"))
    return {"limit": limit, "unit": unit, "over": int(per["over"].sum()),
            "lose_assistant_tokens": int(per["lose"].sum()), "lose_all_assistant_tokens": int(per["lose_all"].sum())}


def _system_prompts(frame: pl.DataFrame, top: int = 5) -> dict[str, Any]:
    system = frame.filter(pl.col("role") == "system")
    counts = system.group_by("content").len().sort(["len", "content"], descending=[True, False])
    return {"conversations_with_system": int(system["conversation"].n_unique()),
            "distinct": counts.height,
            "top": [{"prompt": p, "count": n} for p, n in counts.head(top).iter_rows()]}


def _template_audits(frame: pl.DataFrame, rules: TemplateRules, tokenizer: Any) -> list[Any]:
    """Each conversation's ids, assistant mask and supervision findings (the template's audit hook)."""
    if rules.audit is None:
        raise InputError(f"template {rules.name} cannot tokenize (no templating package installed)")
    conversations = (frame.group_by("conversation", maintain_order=True)
                     .agg(pl.struct("role", "content").alias("messages"))["messages"].to_list())
    return rules.audit(conversations, tokenizer, None, "truncate")


def stats(source: Source, *, tokenizer: Any = None, template: str | TemplateRules | None = None,
          max_length: int | None = None, format: str | None = None, column: str | None = None,
          split: str = "train", audits: list[Any] | None = None) -> Stats:
    """Statistics of `source`; tokens when `tokenizer` is given, trainable tokens with `template` too.

    `audits`: the template's audit of these same rows, in order, when the caller already has it
    (`train` does), so the rows are not rendered and tokenized a second time.
    """
    frame, fmt_name, skipped = message_frame(source, format=format, column=column, split=split)
    tokenizer = load_tokenizer(tokenizer) if isinstance(tokenizer, (str, os.PathLike)) else tokenizer
    rules = resolve_rules(template)
    if tokenizer is not None:
        frame = frame.with_columns(tokens=pl.Series(count_tokens(frame["content"].to_list(), tokenizer),
                                                    dtype=pl.UInt32))
    unit = "tokens" if tokenizer is not None else "chars"
    per_conversation = _conversations(frame, unit)
    if audits is None and rules is not None and tokenizer is not None:
        audits = _template_audits(frame, rules, tokenizer)
    masks = [a.mask for a in audits] if audits is not None else None
    turns = per_conversation["messages"]
    histogram = turns.value_counts().sort("messages")
    summary: dict[str, Any] = {
        "rows": per_conversation.height, "skipped_rows": skipped, "messages": frame.height,
        "turns_per_conversation": {**{k: _num(v) for k, v in per_conversation.select(
            _distribution(pl.col("messages"))).row(0, named=True).items()},
            "min": int(turns.min()) if turns.len() else None,
            "histogram": {str(k): int(v) for k, v in histogram.iter_rows()}},
        "roles": {r: int(n) for r, n in frame.group_by("role").len().sort("len", descending=True).iter_rows()},
        "length_chars": _per_role(frame, "chars"),
        "length_tokens": _per_role(frame, "tokens") if tokenizer is not None else None,
        "tokens": _token_totals(frame, masks) if tokenizer is not None else None,
        "max_length": _truncation(frame, unit, max_length, masks) if max_length is not None else None,
        "duplicates": _duplicates(per_conversation),
        "empty_messages": int((frame["content"] == "").sum()),
        "whitespace_messages": int(frame["content"].str.contains(r"^\s+$").sum()),
        "system_prompts": _system_prompts(frame),
        "supervision": summarise(audits) if audits is not None else None,
    }
    if masks is not None:  # the rendered length, which is what max_length truncates
        per_conversation = per_conversation.with_columns(length=pl.Series([len(m) for m in masks], dtype=pl.UInt32))
    return Stats(_name(source), fmt_name, frame, summary, per_conversation)


def _token_totals(frame: pl.DataFrame, masks: list[list[int]] | None) -> dict[str, Any]:
    by_role = {r: int(n) for r, n in frame.group_by("role").agg(pl.col("tokens").sum()).sort("role").iter_rows()}
    if masks is not None:
        total, trainable, method = sum(map(len, masks)), sum(map(sum, masks)), "template"
    else:
        total, trainable, method = sum(by_role.values()), by_role.get("assistant", 0), "roles"
    return {"total": total, "trainable": trainable, "trainable_share": round(trainable / total, 4) if total else 0.0,
            "by_role": by_role, "method": method}


def compare(a: Stats, b: Stats) -> dict[str, Any]:
    """Rows of `b` that repeat a row of `a` (train/eval leakage), exactly and after folding."""
    left, right = a.conversations, b.conversations
    return {"b_rows_in_a_exact": int(right["exact"].is_in(left["exact"].implode()).sum()),
            "b_rows_in_a_normalised": int(right["folded"].is_in(left["folded"].implode()).sum())}

"""Stats' frames: one row per message and one row per conversation, from any source.

Three readers, fastest first, all giving the same frames (a test holds them to it):
- list-of-messages JSONL (`messages`, `sharegpt`), plain or compressed: the C reader
  `_rowscan.read_messages`, in threads over line-aligned parts of the file (of what it
  decompresses to; `validation.statistics.parts`). Strings stay in the file's bytes: the columns
  are Arrow string views into them, so the text is neither copied nor turned into Python
  objects. Rows it does not read (anything unusual) are decoded by Python, one by one.
- Parquet in the `messages`, `qa` and `text` formats, when its columns have the types the format
  needs: Polars.
- everything else (JSONL in the other formats too): the validation readers, row by row, as
  strict as `validate`.
Rows that cannot be normalised are counted in `skipped`; `validate` explains them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import polars as pl

from validation import _rowscan
from validation.checks.messages import with_call_content
from validation.checks.parts import part_issues
from validation.content import text_of
from validation.errors import RowProblems
from validation.readers.formats import Format
from validation.readers.files import Record
from validation.readers.decode import decode_row, oversized
from validation.checks.reasoning import CLOSE, OPEN, REASONING_FIELDS
from validation.statistics.parts import Parts, c_readable
from validation.readers.source import Dataset, Source, dataset_of
from validation.checks.tools import has_tool_fields
from validation.progress import progress_bar

# Rows are in conversation order, turns in order within each: every reader keeps that invariant.
# `reasoning`: the message's reasoning field, as `reasoning_of` reads it (validation/checks/reasoning.py),
# `reasoning_source` its name; null without one. Think blocks in content are `reasoning_split`'s.
# `turn` is UInt32 here; the C reader's parts hold UInt16 (it leaves a row of 65,535 messages or more
# to Python), widened only when both meet.
FRAME_SCHEMA = {"conversation": pl.UInt32, "turn": pl.UInt32, "role": pl.String, "content": pl.String,
                "reasoning": pl.String, "reasoning_source": pl.String}
# Per conversation, in characters; assistant_start is null without an assistant turn.
CONVERSATION_SCHEMA = {"conversation": pl.UInt32, "messages": pl.UInt32, "length": pl.Int64,
                       "assistant_start": pl.Int64, "assistant_end": pl.Int64, "exact": pl.UInt64,
                       "folded": pl.UInt64}
WHITESPACE_ONLY = r"^[\s\x1c-\x1f]+$"  # Python's str.isspace(): Unicode White_Space and \x1c-\x1f


@dataclass
class Frames:
    """What `stats` summarises: `messages` (FRAME_SCHEMA + chars), `conversations`
    (CONVERSATION_SCHEMA), the format's name, rows skipped, and empty and whitespace-only messages."""

    messages: pl.DataFrame
    conversations: pl.DataFrame
    format: str
    skipped: int
    empty: int
    whitespace: int
    tools: bool | None = None  # some row declares tools or makes calls (None: this reader cannot tell)
    reasoning: bool | None = None  # some reply reasons, in a field or a think block (None: this reader cannot tell)


def read_frames(source: Source, *, format: str | None = None, column: str | None = None,
                split: str = "train", progress: bool = False, parts: Parts | None = None) -> Frames:
    """The frames of `source` (a path, rows or an open `Dataset`), by the fastest reader that can
    read it; `progress`: a bar on stderr (a terminal only) while rows are read one by one.
    `parts`: the C reader's parts of the dataset, when the caller started them."""
    with dataset_of(source, format=format, column=column, split=split) as data, \
            progress_bar(data, progress, "reading") as advance:
        fmt = data.format
        if c_readable(data):  # (the threads started here unless `stats` started them)
            return c_frames(parts or Parts(data), fmt, data.max_row_bytes)
        messages, skipped = None, 0
        lazy = _polars_source(data, fmt)
        if lazy is not None:
            try:
                messages, skipped = _explode(lazy.collect())
            except pl.exceptions.PolarsError:  # a file Polars cannot read: row by row instead
                pass
        if messages is None:
            return python_frames(enumerate(data.records(progress=advance)), fmt)
    return _frames(messages, skipped, fmt.name)


def python_frames(records: Iterable[tuple[int, Record]], fmt: Format) -> Frames:
    """The frames of (conversation id, record) read row by row, as `read_frames` reads what neither the C reader nor
    Polars reads."""
    return _frames(*_python_frame(records, fmt), fmt.name)


def _frames(messages: pl.DataFrame, skipped: int, name: str) -> Frames:
    messages = messages.with_columns(chars=pl.col("content").str.len_chars())
    content = messages["content"]
    return Frames(messages, conversation_frame(messages), name, skipped, int((content == "").sum()),
                  int(content.str.contains(WHITESPACE_ONLY).sum()))


def reasoning_replies(frame: pl.DataFrame) -> int:
    """Replies that reason: a reasoning field, or a think block's end in the content (what the C
    reader counts)."""
    reasons = (pl.col("role") == "assistant") & (pl.col("reasoning").is_not_null() |
                                                 pl.col("content").str.contains(CLOSE, literal=True))
    return int(frame.select(reasons.sum()).item())  # (not a filter: that copies a string-view column's text)


def reasoning_split(frame: pl.DataFrame) -> pl.DataFrame:
    """Assistant messages as (conversation, reasoning, answer, source): a reasoning field, else a
    think block in the content split as `split_inline` splits it (source "inline"), else no
    reasoning (null) and the content as the answer."""
    content = pl.col("content")
    parts = content.str.split_exact(CLOSE, 1)
    inline = pl.col("reasoning").is_null() & content.str.contains(CLOSE, literal=True)
    before = parts.struct.field("field_0").str.strip_chars_end("\n").str.split(OPEN).list.last()
    return frame.lazy().filter(pl.col("role") == "assistant").select(
        "conversation",
        reasoning=pl.when(inline).then(before.str.strip_chars_start("\n")).otherwise("reasoning"),
        answer=pl.when(inline).then(parts.struct.field("field_1").str.strip_chars_start("\n")).otherwise(content),
        source=pl.when(inline).then(pl.lit("inline")).otherwise("reasoning_source")).collect()


def conversation_frame(messages: pl.DataFrame, unit: str = "chars") -> pl.DataFrame:
    """Per conversation: messages, length in `unit`, where the assistant turns start and end, and
    the duplicate hashes (`prover.hash_conversation`)."""
    ends = pl.col(unit).cast(pl.Int64).cum_sum()
    is_assistant = pl.col("role") == "assistant"
    table = (messages.lazy().group_by("conversation", maintain_order=True)
             .agg(pl.len().alias("messages"), pl.col(unit).cast(pl.Int64).sum().alias("length"),
                  (ends - pl.col(unit)).filter(is_assistant).first().alias("assistant_start"),
                  ends.filter(is_assistant).last().alias("assistant_end"))
             .collect())
    exact, folded = _hashes(messages)
    return table.with_columns(exact=exact, folded=folded).cast(CONVERSATION_SCHEMA)  # type: ignore[arg-type]


def _hashes(messages: pl.DataFrame) -> tuple[pl.Series, pl.Series]:
    import numpy as np
    import pyarrow as pa

    def offsets_and_data(name: str) -> tuple[Any, Any]:
        array = messages[name].to_arrow().cast(pa.large_string())
        if isinstance(array, pa.ChunkedArray):
            array = array.combine_chunks()
        _, offsets, data = array.buffers()
        offsets = np.frombuffer(offsets, np.int64)[array.offset:array.offset + len(array) + 1]
        return offsets - offsets[0], data.slice(int(offsets[0])) if data is not None else b""

    ids = messages["conversation"].to_numpy().astype(np.uint32)
    exact, folded = _rowscan.conversation_hashes(ids, *offsets_and_data("role"), *offsets_and_data("content"))
    return (pl.Series(np.frombuffer(exact, np.uint64), dtype=pl.UInt64),
            pl.Series(np.frombuffer(folded, np.uint64), dtype=pl.UInt64))


# --- the C reader ------------------------------------------------------------------------------

CONVERSATION_DTYPE = [("exact", "<u8"), ("folded", "<u8"), ("length", "<i8"), ("assistant_start", "<i8"),
                      ("assistant_end", "<i8"), ("conversation", "<u4"), ("messages", "<u4")]  # _rowscan.c: Conv


def c_frames(parts: Any, fmt: Format, limit: int) -> Frames:
    """The frames of the C reader's `parts` (a context manager whose `results()` are each part's bytes and what
    `_rowscan.read_messages` made of them, in order: `Parts`); a row over `limit` bytes is left unread."""
    with parts:
        import numpy  # noqa: F401  (the frames need them: imported while the threads read, ~0.15 s)
        import pyarrow  # noqa: F401
        messages, conversations, deferred = [], [], []
        offset = skipped = empty = whitespace = tool_rows = reasoning = 0
        for raw, part in parts.results():  # a part's frames built while the threads read the parts after it
            frame, table, counts, late = _part_frames(raw, part, offset, limit)
            messages.append(frame)
            conversations.append(table)
            deferred += late
            skipped += counts[0]
            empty += counts[1]
            whitespace += counts[2]
            tool_rows += counts[3]
            reasoning += counts[4]
            offset += part[0]
    tools = tool_rows > 0 or any(isinstance(r.data, dict) and has_tool_fields(r.data) for _, r in deferred)
    if deferred:  # rows the C reader left: decoded here, then put in their place
        late_messages, late_skipped = _python_frame(deferred, fmt)
        late_messages = late_messages.with_columns(chars=pl.col("content").str.len_chars())
        skipped += late_skipped
        empty += int((late_messages["content"] == "").sum())
        whitespace += int(late_messages["content"].str.contains(WHITESPACE_ONLY).sum())
        reasoning += reasoning_replies(late_messages)
        messages.append(late_messages)
        conversations.append(conversation_frame(late_messages))
    frame = pl.concat(messages, rechunk=False, how="vertical_relaxed")  # turn: UInt16 parts, a UInt32 late one
    table = pl.concat(conversations, rechunk=False)
    if deferred:
        frame, table = frame.sort("conversation", "turn"), table.sort("conversation")
    return Frames(frame, table, fmt.name, skipped, empty, whitespace, tools, reasoning > 0)


def _part_frames(data: bytes | memoryview, part: tuple, offset: int, limit: int) -> tuple[
        pl.DataFrame, pl.DataFrame, tuple[int, int, int, int, int], list[tuple[int, Record]]]:
    """One part's frames (conversation ids moved by `offset`), (empty rows, empty messages,
    whitespace-only messages, rows with tools or calls, replies that reason) and the records of
    the rows the C reader left (a row over `limit` bytes, left unread, is a `row-too-large` issue)."""
    import numpy as np
    import pyarrow as pa

    (records, empty_rows, empty, whitespace, tool_rows, conversation, turn, roles, contents, chars, decoded, convs,
     deferred, reasonings, sources, reasoning) = part
    n = len(chars) // 4
    buffers = [pa.py_buffer(data), pa.py_buffer(decoded)]

    def strings(views: bytes) -> pl.Series:
        return pl.from_arrow(pa.Array.from_buffers(pa.string_view(), n, [None, pa.py_buffer(views), *buffers]))

    frame = pl.DataFrame({
        "conversation": pl.Series(np.frombuffer(conversation, np.uint32) + np.uint32(offset), dtype=pl.UInt32),
        "turn": pl.Series(np.frombuffer(turn, np.uint16), dtype=pl.UInt16),
        "role": strings(roles), "content": strings(contents),
        "reasoning": strings(reasonings),
        "reasoning_source": pl.Series(np.frombuffer(sources, np.uint8), dtype=pl.UInt8),
        "chars": pl.Series(np.frombuffer(chars, np.uint32), dtype=pl.UInt32)})
    has_field = pl.col("reasoning_source") > 0
    frame = frame.with_columns(  # the C reader's 0: no reasoning field (null here)
        reasoning=pl.when(has_field).then("reasoning"),
        reasoning_source=pl.when(has_field).then(
            pl.col("reasoning_source").replace_strict(list(range(1, len(REASONING_FIELDS) + 1)), REASONING_FIELDS,
                                                      default=None, return_dtype=pl.String)))
    table = np.frombuffer(convs, np.dtype(CONVERSATION_DTYPE))
    conversations = pl.DataFrame({
        "conversation": table["conversation"] + np.uint32(offset), "messages": table["messages"],
        "length": table["length"], "assistant_start": table["assistant_start"],
        "assistant_end": table["assistant_end"], "exact": table["exact"], "folded": table["folded"]})
    has_assistant = pl.col("assistant_start") >= 0  # the C reader's -1: no assistant turn (null here)
    conversations = conversations.with_columns(assistant_start=pl.when(has_assistant).then("assistant_start"),
                                               assistant_end=pl.when(has_assistant).then("assistant_end"))
    triples = np.frombuffer(deferred, np.int64).reshape(-1, 3)
    late = [(offset + int(row), Record(int(row) + 1, decode_row(
        bytes(data[at:at + length]) if length <= limit else oversized(int(length), limit), int(row) + 1)))
        for row, at, length in triples]
    conversations = conversations.cast(CONVERSATION_SCHEMA)  # type: ignore[arg-type]
    return frame, conversations, (empty_rows, empty, whitespace, tool_rows, reasoning), late


# --- Polars and Python readers -----------------------------------------------------------------

def _polars_source(data: Dataset, fmt: Format) -> pl.LazyFrame | None:
    """A lazy frame of (conversation, messages) read by Polars, when it can read it exactly.

    Parquet only, and only when its columns already have the types the format needs: Polars'
    NDJSON reader turns a number into a string and a lone surrogate into NUL where a schema asks
    for strings, and a cast would do the same to an integer column, where the other readers skip
    the row as `validate` rejects it.
    """
    if fmt.name not in ("messages", "qa", "text") or data.kind != "parquet" or data.renamed:
        return None
    if fmt.name == "messages":
        schema = {fmt.column: pl.List(pl.Struct({"role": pl.String, "content": pl.String}))}
    elif fmt.name == "qa":
        schema = {"question": pl.String, "answer": pl.String}
    else:
        schema = {fmt.column: pl.String}
    lazy = pl.scan_parquet(data.window())  # the open file, not the path again
    found = lazy.collect_schema()
    if not all(name in found and _holds(found[name], dtype) for name, dtype in schema.items()):
        return None
    lazy = lazy.select(list(schema)).with_row_index("conversation")
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


def _holds(found: pl.DataType, wanted: pl.DataType) -> bool:
    """`found` is `wanted`, or a list of structs with at least `wanted`'s fields, of the same types."""
    if isinstance(wanted, pl.List) and isinstance(wanted.inner, pl.Struct):
        if not (isinstance(found, pl.List) and isinstance(found.inner, pl.Struct)):
            return False
        fields = {f.name: f.dtype for f in found.inner.fields}
        return all(fields.get(f.name) == f.dtype for f in wanted.inner.fields)
    return found == wanted


def _explode(rows: pl.DataFrame) -> tuple[pl.DataFrame, int]:
    """(one row per message, rows skipped) from (conversation, messages) rows. A row is skipped
    when it holds no message, or a message without a string role and content (a null here), as
    the row-by-row reader skips it."""
    complete = pl.element().struct.field("role").is_not_null() & pl.element().struct.field("content").is_not_null()
    kept = rows.filter((pl.col("messages").list.len() > 0) & pl.col("messages").list.eval(complete).list.all())
    frame = (kept.explode("messages").unnest("messages")
             .with_columns(turn=pl.int_range(pl.len()).over("conversation").cast(pl.UInt32)))
    fields = [name for name in REASONING_FIELDS if frame.schema.get(name) == pl.String]  # the first string one wins
    frame = frame.with_columns(
        reasoning=pl.coalesce(*fields) if fields else pl.lit(None, pl.String),
        reasoning_source=pl.coalesce(*(pl.when(pl.col(n).is_not_null()).then(pl.lit(n)) for n in fields))
        if fields else pl.lit(None, pl.String))
    frame = frame.select(list(FRAME_SCHEMA)).cast(FRAME_SCHEMA)  # type: ignore[arg-type]
    return frame, rows.height - kept.height


def _python_frame(records: Iterable[tuple[int, Record]], fmt: Format) -> tuple[pl.DataFrame, int]:
    """The frame built row by row from (conversation id, record); rows that cannot be read are counted."""
    columns: dict[str, list[Any]] = {name: [] for name in FRAME_SCHEMA}
    skipped = 0
    for conversation, record in records:
        data = record.data
        try:
            messages = fmt.to_messages(data) if isinstance(data, dict) else None
        except RowProblems:
            messages = None
        messages = [with_call_content(m) if isinstance(m, dict) else m for m in messages or ()]  # as validate
        if not readable(messages):
            skipped += 1
            continue
        for turn, message in enumerate(messages):
            source = next((name for name in REASONING_FIELDS if isinstance(message.get(name), str)), None)
            columns["conversation"].append(conversation)
            columns["turn"].append(turn)
            columns["role"].append(message["role"])
            columns["content"].append(text_of(message["content"]))  # (the text of content parts)
            columns["reasoning"].append(message[source] if source else None)
            columns["reasoning_source"].append(source)
    return pl.DataFrame(columns, schema=FRAME_SCHEMA), skipped


def readable(messages: list[Any]) -> bool:
    """Whether stats reads a row's messages (else the row is skipped): some, each a dict with a string
    role and a content that is a string or content parts `validate` reads (validation/content.py)."""
    return bool(messages) and all(isinstance(m, dict) and isinstance(m.get("role"), str) and (
        isinstance(c := m.get("content"), str) or (isinstance(c, list) and not part_issues(c))) for m in messages)

"""Decode one raw JSON row into a dict, or say exactly why it cannot be decoded.

orjson does the work on the fast path: it is strict where stdlib `json` is lenient (lone
surrogates, NaN, a BOM inside the row) and about twice as fast. Integers wider than 64 bits
become floats in orjson, so callers that write data back out use `precise=True` (stdlib json
with the same strictness added).
"""

from __future__ import annotations

import json
import re
from typing import Any

import orjson

from validation._rowscan import lone_surrogate_escape, opens_over
from validation.report import Issue

# Arrays and objects inside one another, at most: one limit for every reader and writer of rows. stdlib json
# (the precise reader, every writer, Jinja's `tojson`) recurses a frame a level within Python's 1,000 frames,
# so the limit leaves half of them to the callers' own frames; orjson alone would read 1,024.
MAX_DEPTH = 512
MAX_ROW_BYTES = 256 << 20  # a longer line is a `row-too-large` error, skipped unread (--max-row-bytes)
# What the line readers (`validation.readers.files.line_blocks`) put in the place of a line longer than the
# limit: this mark, its size and the limit. A NUL byte cannot begin a JSON row, so no real row reads
# as this one, and every reader of lines (the C prover and stats' reader too) passes it on as not JSON.
OVERSIZED = b"\x00instructkit:row-too-large:"


_OVERSIZED_LINE = re.compile(re.escape(OVERSIZED) + rb"(\d+):(\d+)\n")


def oversized(size: int, limit: int) -> bytes:
    """The line that stands for a row of `size` bytes over `limit`."""
    return OVERSIZED + b"%d:%d\n" % (size, limit)


class DecodeError(ValueError):
    """A row that is not a usable JSON object; `code` is its catalogue code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _classify(exc: Exception, raw: bytes) -> DecodeError:
    text = str(exc)
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return DecodeError("invalid-utf8", f"invalid UTF-8 byte 0x{raw[bad.start]:02x} at byte {bad.start}")
    if "surrogate" in text:
        try:  # stdlib json lets lone surrogates through: does the row hold more than that wrong (a cut row)?
            value = json.loads(raw.rstrip(b"\r\n"))
            if _may_nest_too_deep(raw):
                check_depth(value)  # (too deep, the row's first fault, whichever reader finds what first)
        except (ValueError, RecursionError) as other:
            return other if isinstance(other, DecodeError) else _classify(other, raw)
        return DecodeError("lone-surrogate", f"unpaired UTF-16 surrogate escape ({text})")
    if "depth limit" in text or isinstance(exc, RecursionError):
        return DecodeError("too-deeply-nested", f"nesting deeper than {MAX_DEPTH} levels")
    if "after document" in text or "Extra data" in text:
        return DecodeError("trailing-data", f"unexpected data after the JSON value ({text})")
    return DecodeError("invalid-json", text)


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not valid JSON")


def _may_nest_too_deep(raw: bytes | str) -> bool:
    """Whether a decoded row may nest past MAX_DEPTH: not when it opens MAX_DEPTH brackets at most (in
    strings too: an upper bound). Counted in C (SSE2: 0.15 us a 3 kB row, against 2.8 us to decode it),
    instead of a walk of every row in Python."""
    if len(raw) <= MAX_DEPTH:
        return False
    if isinstance(raw, str):  # (JSON text inside a row: call arguments, a tool list)
        return raw.count("[") + raw.count("{") > MAX_DEPTH
    return opens_over(raw, MAX_DEPTH)


def check_depth(value: Any) -> None:
    """`DecodeError` (too-deeply-nested) when `value` holds more than MAX_DEPTH arrays/objects inside one
    another; walked with a stack, so any depth a decoder returned is checked without recursion."""
    stack = [(value, 1)] if isinstance(value, (dict, list)) else []
    while stack:
        item, level = stack.pop()
        if level > MAX_DEPTH:
            raise DecodeError("too-deeply-nested", f"nesting deeper than {MAX_DEPTH} levels")
        stack.extend((child, level + 1) for child in (item.values() if isinstance(item, dict) else item)
                     if isinstance(child, (dict, list)))


def _check_surrogates(value: Any) -> None:
    """`DecodeError` (lone-surrogate) when a string of `value`, a key too, holds an unpaired surrogate (stdlib
    json lets an escaped one through; UTF-8 holds none, so only rows where `lone_surrogate_escape` finds one
    are walked)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            try:
                item.encode("utf-8")
            except UnicodeEncodeError:
                raise DecodeError("lone-surrogate", "unpaired UTF-16 surrogate escape") from None
        elif isinstance(item, dict):
            stack.extend(item.keys())
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def loads(raw: bytes, *, precise: bool = False) -> Any:
    """Decode one JSON value strictly; raises `DecodeError` with a catalogue code.

    Example:
        >>> loads(b'{"a": 1}')
        {'a': 1}
    """
    if not precise:
        try:
            value = orjson.loads(raw)
        except orjson.JSONDecodeError as exc:
            raise _classify(exc, raw) from None
    else:
        try:
            text = raw.decode("utf-8")
            value = json.loads(text, parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise _classify(exc, raw) from None
    if _may_nest_too_deep(raw):
        check_depth(value)
    if precise and lone_surrogate_escape(raw):  # (orjson refuses them itself)
        _check_surrogates(value)
    return value


def loads_text(text: str | bytes) -> Any:
    """JSON text held inside a row (call arguments, a tool list, a reply, a CSV cell), read as the
    standard library reads it (NaN and integers of any width too), orjson first; ValueError when it
    is not JSON, nesting past MAX_DEPTH included (a `DecodeError`, never a RecursionError that would end
    the whole command).

    Example:
        >>> loads_text('{"city": "서울"}'), loads_text("[" * 5000 + "]" * 5000)
        Traceback (most recent call last):
        validation.readers.decode.DecodeError: nesting deeper than 512 levels
    """
    try:
        value = orjson.loads(text)
    except orjson.JSONDecodeError:
        try:
            value = json.loads(text)
        except RecursionError:
            raise DecodeError("too-deeply-nested", f"nesting deeper than {MAX_DEPTH} levels") from None
    if _may_nest_too_deep(text):
        check_depth(value)
    return value


def json_type(value: Any) -> str:
    """The JSON name of a decoded value's type, for messages (`got null`, `got array`)."""
    return "null" if value is None else {dict: "object", list: "array", str: "string",
                                         bool: "boolean"}.get(type(value), type(value).__name__)


def decode_row(raw: bytes, row: int, *, precise: bool = False) -> dict[str, Any] | Issue:
    """The row's object, or the `Issue` that explains why there is none."""
    if raw.startswith(OVERSIZED) and (mark := _OVERSIZED_LINE.fullmatch(raw)):
        return Issue.make(row, "", "row-too-large", f"the row is {int(mark[1]):,} bytes, over the limit of "
                          f"{int(mark[2]):,} (--max-row-bytes); it was skipped without being read into memory")
    try:
        value = loads(raw, precise=precise)
    except DecodeError as exc:
        return Issue.make(row, "", exc.code, str(exc))
    if not isinstance(value, dict):
        return Issue.make(row, "", "not-an-object", f"expected a JSON object, got {type(value).__name__}")
    return value

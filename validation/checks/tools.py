"""Tool calls checked against the tools a row declares, and replies against a response schema.

A row declares its tools in a top-level `tools` field (a list, or the JSON text of one, as
`apply_chat_template(tools=...)` takes them and as datasets store them): each tool is
`{"type": "function", "function": {"name", "description", "parameters"}}` or the bare
`{"name", "description", "parameters"}`. JSON Schema is `jsonschema-rs`'s (Draft 2020-12 unless a
schema names its own `$schema`); a validator is built once per distinct schema, so a dataset whose
rows repeat the same tools compiles them once.

Findings come back as (path, code, message); the caller places them at its row.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Literal

import orjson

from validation.readers.decode import json_type, loads_text
from validation.errors import InputError
from validation.checks.rules import ToolSupport

Found = tuple[str, str, str]  # (path, code, message)
PathFn = Callable[[int, str], str]


@lru_cache(maxsize=4096)
def _validator(schema_text: str) -> Any:
    """A validator for the schema (JSON text with sorted keys), or the schema error as a string."""
    import jsonschema_rs

    schema = json.loads(schema_text)
    try:
        jsonschema_rs.meta.validate(schema)  # against its draft's meta-schema
        return jsonschema_rs.validator_for(schema)  # resolves $ref: an unknown pointer is refused here
    except (jsonschema_rs.ValidationError, jsonschema_rs.ReferencingError, ValueError) as exc:
        message = getattr(exc, "message", None) or str(exc).splitlines()[0]
        where = "/".join(str(p) for p in getattr(exc, "instance_path", None) or ())
        return message + (f" (at /{where})" if where else "")


def validator(schema: Any) -> Any:
    """A (cached) validator for `schema`, or the reason it is not a valid JSON Schema (a str)."""
    if not isinstance(schema, (dict, bool)):
        return f"a JSON Schema is an object, not {json_type(schema)}"
    return _validator(json.dumps(schema, sort_keys=True, ensure_ascii=False))


def mismatches(check: Any, value: Any, base: str) -> list[tuple[str, str]]:
    """(path, message) of each way `value` fails the validator, placed with a JSON pointer into
    the value after `#` (`messages[1].tool_calls[0].function.arguments#/unit`)."""
    if check.is_valid(value):
        return []
    out = []
    for error in sorted(check.iter_errors(value), key=lambda e: [str(p) for p in e.instance_path]):
        pointer = "".join(f"/{str(p).replace('~', '~0').replace('/', '~1')}" for p in error.instance_path)
        out.append((f"{base}#{pointer}" if pointer else base, error.message))
    return out


@dataclass(frozen=True)
class Tool:
    name: str
    check: Any  # validator of its parameters (None: the tool takes no declared parameters)


def canonical_json(value: Any) -> str:
    """`value` as JSON text with sorted keys: equal for equal values (TypeError for a value that
    is not JSON, such as a script's own objects)."""
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS).decode()


def declared_tools(value: Any, field: str = "tools") -> tuple[dict[str, Tool] | None, list[Found]]:
    """The row's tools by name (None when the row declares none or none usable) and what is wrong
    with them. Rows of a dataset mostly repeat the same tools: each distinct declaration is read
    once (keyed by its canonical JSON)."""
    if value is None:
        return None, []
    try:
        key = value if isinstance(value, str) else canonical_json(value)
    except TypeError:  # not JSON-able (a script's own objects): read it uncached
        return _declared(value, field)
    return _declared_text(key, isinstance(value, str), field)


@lru_cache(maxsize=1024)
def _declared_text(key: str, was_text: bool, field: str) -> tuple[dict[str, Tool] | None, list[Found]]:
    return _declared(key if was_text else loads_text(key), field)


def _declared(value: Any, field: str) -> tuple[dict[str, Tool] | None, list[Found]]:
    if isinstance(value, str):
        try:
            value = loads_text(value)
        except ValueError as exc:
            return None, [(field, "invalid-tools", f"tools is text that is not JSON ({exc})")]
    if not isinstance(value, list):
        return None, [(field, "invalid-tools", f"tools must be a list of tool definitions, got {json_type(value)}")]
    tools: dict[str, Tool] = {}
    found: list[Found] = []
    for i, entry in enumerate(value):
        wrapped = isinstance(entry, dict) and "function" in entry  # OpenAI's shape, else the bare one
        spec, where = (entry["function"], f"{field}[{i}].function") if wrapped else (entry, f"{field}[{i}]")
        if not isinstance(spec, dict) or not isinstance(spec.get("name"), str) or not spec["name"]:
            found.append((where, "invalid-tool-schema", "a tool needs a non-empty string 'name'"))
            continue
        name = spec["name"]
        check = None
        if "parameters" in spec and spec["parameters"] is not None:
            check = validator(spec["parameters"])
            if isinstance(check, str):
                found.append((f"{where}.parameters", "invalid-tool-schema",
                              f"tool {name!r}: parameters is not a valid JSON Schema: {check}"))
                check = None
        if name in tools:
            found.append((f"{where}.name", "duplicate-tool-name", f"tool {name!r} is declared twice"))
        tools[name] = Tool(name, check)
    return tools, found


def arguments_of(value: Any) -> tuple[Any, str | None]:
    """(the arguments as an object, None) or (None, why they are not one)."""
    if isinstance(value, str):
        try:
            value = loads_text(value)
        except ValueError as exc:
            return None, f"arguments are text that is not JSON ({exc})"
        if not isinstance(value, dict):
            return None, f"arguments must encode a JSON object, got {json_type(value)}"
    if not isinstance(value, dict):
        return None, f"arguments must be an object or the JSON text of one, got {json_type(value)}"
    return value, None


def call_issues(messages: Sequence[Any], tools_value: Any, path: PathFn, root: str,
                support: ToolSupport | None = None, template: str = "", *, parallel: Any = None) -> list[Found]:
    """Tools, calls and results of one conversation (`messages`: validated `Message`s); with the
    `support` of a `template`, also what that template would not render as given; `parallel`:
    the row's `parallel_tool_calls` (False: one call a turn)."""
    tools, declared = declared_tools(tools_value)
    found = list(declared)  # the declaration's findings are cached: never added to in place
    ids: dict[str, str] = {}  # call id -> the function it calls
    pending: list[tuple[str | None, str]] = []  # calls waiting for a result: (id, name)
    answered: set[str] = set()
    calls_seen = False
    for i, m in enumerate(messages):
        if m.role == "assistant" and m.tool_calls:
            if pending:
                found += _unanswered(pending, i, path)
            pending = []
            calls_seen = True
            if parallel is False and len(m.tool_calls) > 1:
                found.append((path(i, "tool_calls"), "parallel-calls-disallowed",
                              f"{len(m.tool_calls)} calls in one turn, but the row sets parallel_tool_calls: false"))
            for j, call in enumerate(m.tool_calls):
                where = f"tool_calls[{j}]"
                name = call.function.name
                if call.id is not None:
                    if call.id in ids:
                        found.append((path(i, f"{where}.id"), "duplicate-call-id",
                                      f"call id {call.id!r} is used by an earlier call"))
                    ids[call.id] = name
                pending.append((call.id, name))
                found += _call(call, tools, path(i, where))
        elif m.role == "tool":
            found += _result(m, i, path, ids, pending, answered, calls_seen)
        elif pending:
            found += _unanswered(pending, i, path)
            pending = []
    if calls_seen and tools_value is None:
        found.append((root, "no-tools-declared",
                      "the row calls tools but declares none in 'tools': the model never sees what it may call"))
    if support is not None:
        found += _template_issues(messages, tools, path, support, template)
    return found


def _template_issues(messages: Sequence[Any], tools: dict[str, Tool] | None, path: PathFn, support: ToolSupport,
                     template: str) -> list[Found]:
    """What `template` would drop or garble: tools it does not print, calls it does not render,
    more calls in a turn than it takes, arguments in a form it double-encodes or prints as a repr."""
    found: list[Found] = []
    if tools and not support.tools:
        found.append(("tools", "tools-not-rendered", f"template {template} does not print the tool list: "
                                                    "the model would be trained without seeing its tools"))
    for i, m in enumerate(messages):
        if m.role != "assistant" or not m.tool_calls:
            continue
        if not support.tool_calls:
            found.append((path(i, "tool_calls"), "tools-not-rendered",
                          f"template {template} does not render tool calls: this turn would train as plain text"))
            continue
        if len(m.tool_calls) > 1 and not support.parallel_calls:
            found.append((path(i, "tool_calls"), "too-many-calls",
                          f"{len(m.tool_calls)} calls in one turn; template {template} renders one per turn"))
        for j, call in enumerate(m.tool_calls):
            form = "string" if isinstance(call.function.arguments, str) else "object"
            if form not in support.arguments and support.arguments:
                garbled = "double-encoded" if form == "string" else "as a Python repr"
                found.append((path(i, f"tool_calls[{j}].function.arguments"), "arguments-form",
                              f"template {template} renders {form} arguments {garbled}; it takes "
                              f"{' or '.join(support.arguments)} (--fix converts them)"))
    return found


def _call(call: Any, tools: dict[str, Tool] | None, where: str) -> list[Found]:
    name = call.function.name
    arguments, why = arguments_of(call.function.arguments)
    if why:
        return [(f"{where}.function.arguments", "invalid-arguments", f"call of {name!r}: {why}")]
    if tools is None:  # none declared (a warning of its own) or the declaration is unusable (an error)
        return []
    tool = tools.get(name)
    if tool is None:
        known = ", ".join(sorted(tools)) or "none"
        return [(f"{where}.function.name", "unknown-tool", f"{name!r} is not a declared tool (declared: {known})")]
    if tool.check is None:
        return []
    return [(at, "arguments-mismatch", f"call of {name!r}: {message}")
            for at, message in mismatches(tool.check, arguments, f"{where}.function.arguments")]


def _result(m: Any, i: int, path: PathFn, ids: dict[str, str], pending: list[tuple[str | None, str]],
            answered: set[str], calls_seen: bool) -> list[Found]:
    if not calls_seen:
        return [(path(i, "role"), "tool-without-call", "tool message with no earlier assistant tool call")]
    if m.tool_call_id is not None:
        if m.tool_call_id in answered:
            return [(path(i, "tool_call_id"), "call-answered-twice",
                     f"call {m.tool_call_id!r} already has a result")]
        match = next((k for k, (call_id, _) in enumerate(pending) if call_id == m.tool_call_id), None)
        if match is None:
            why = "no earlier call with this id" if m.tool_call_id not in ids \
                else "a call of an earlier turn: results follow their calls"
            return [(path(i, "tool_call_id"), "tool-without-call", f"tool_call_id {m.tool_call_id!r} answers {why}")]
    elif pending:
        match = 0  # results without ids answer the calls in order
    else:
        return [(path(i, "role"), "tool-without-call", "tool message after every call already has its result")]
    call_id, name = pending.pop(match)
    if call_id is not None:
        answered.add(call_id)
    if m.name is not None and m.name != name:
        return [(path(i, "name"), "tool-name-mismatch", f"tool message named {m.name!r} answers a call of {name!r}")]
    return []


def _unanswered(pending: Iterable[tuple[str | None, str]], i: int, path: PathFn) -> list[Found]:
    names = ", ".join(f"{name!r}" + (f" ({call_id})" if call_id else "") for call_id, name in pending)
    return [(path(i, "role"), "unanswered-call", f"the conversation moves on before the result of {names}")]


Scope = Literal["last", "all"]


@dataclass(frozen=True)
class ResponseSchema:
    """Assistant replies (the last one, or all) must be JSON that validates against `schema`."""

    schema: Any
    scope: Scope = "last"
    name: str = "the response schema"

    def __post_init__(self) -> None:
        check = validator(self.schema)
        if isinstance(check, str):
            raise InputError(f"{self.name}: not a valid JSON Schema: {check}")
        object.__setattr__(self, "_check", check)  # built once, not per row

    @classmethod
    def load(cls, path: str, scope: Scope = "last") -> ResponseSchema:
        """Read a schema file; InputError when it is unreadable or not a JSON Schema."""
        from validation.readers.files import read_json

        return cls(read_json(path), scope, path)

    def in_scope(self, messages: Sequence[Any]) -> list[int]:
        """The positions of the replies checked among raw message dicts (tool calls are not replies)."""
        replies = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "assistant"
                   and not m.get("tool_calls") and isinstance(m.get("content"), str)]
        return replies[-1:] if self.scope == "last" else replies

    def reply_issues(self, reply: str, where: str) -> list[Found]:
        """What is wrong with one reply's text, placed at `where`."""
        try:
            value = loads_text(reply)
        except ValueError as exc:
            return [(where, "response-not-json", f"the reply is not JSON ({exc})")]
        return [(at, "response-schema-mismatch", message)
                for at, message in mismatches(self._check, value, where)]  # type: ignore[attr-defined]

    def issues(self, messages: Sequence[dict[str, Any]], path: PathFn) -> list[Found]:
        """What is wrong with the replies in scope of raw message dicts."""
        return [found for i in self.in_scope(messages)
                for found in self.reply_issues(messages[i]["content"], path(i, "content"))]


TOOL_NAMES = frozenset({"tools", "tool_calls", "function_call"})  # the keys of tool rows, in any format


def has_tool_fields(row: dict[str, Any]) -> bool:
    """Does the row declare tools or make calls (in any format)? A key, or a string, anywhere in it
    that is one of TOOL_NAMES (what finding '"tools"' in the row written as JSON found), looked for
    with a stack, not by recursion: a row nested a thousand levels deep (which validate accepts to
    1,024) is a row like any other here."""
    stack: list[Any] = [row]
    while stack:
        value = stack.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                if key in TOOL_NAMES:
                    return True
                stack.append(item)
        elif isinstance(value, (list, tuple)):
            stack.extend(value)
        elif isinstance(value, str) and value in TOOL_NAMES:
            return True
    return False


TOOL_SAMPLE = 200  # the first rows that tell, where the reader cannot, whether a dataset's tools are counted


def has_tools(data: Any, sample: int = TOOL_SAMPLE) -> bool:
    """Does the dataset declare tools or make calls, by its first `sample` rows? (stats' C reader
    tells it for every row of a JSONL file as it reads them: `Frames.tools`.)"""
    for k, record in enumerate(data.records()):
        if k >= sample:
            return False
        if isinstance(record.data, dict) and has_tool_fields(record.data):
            return True
    return False


def tool_counts(data: Any, response: ResponseSchema | None = None, *, found: bool | None = None) -> tuple[Any, Any]:
    """(ToolCounts or None, ResponseCounts or None) of a dataset, in one pass over its rows; tool
    counts only when there is something to count: `found` (what the reader saw), else `has_tools`
    (rows given as an iterator, which the other statistics have read, are not counted)."""
    if not data.rereadable:  # rows given as an iterator, already read for the other statistics
        if response is not None:
            raise InputError(f"{data.name}: --response-schema needs rows it can read again (a file or a list), "
                             "not an iterator")
        return None, None
    counting = has_tools(data) if found is None else found
    if not counting and response is None:
        return None, None
    tally = ToolTally()
    for record in data.records():
        tally.add(record.data, data.format, response, tools=counting)
    return tally.counts(counting, response)


@dataclass
class ToolTally:
    """What `tool_counts` counts, row by row: the tool counts and the replies checked against a response schema.
    Tallies of parts of a dataset add up (`merge`), so a sharded `stats` counts as `stats` does."""

    with_tools: int = 0
    with_calls: int = 0
    calls: int = 0
    parallel: int = 0
    results: int = 0
    checked: int = 0
    valid: int = 0
    tools_per_row: list[int] = field(default_factory=list)
    calls_per_row: list[int] = field(default_factory=list)
    replies: int = 0
    replies_valid: int = 0

    def add(self, row: Any, fmt: Any, response: ResponseSchema | None, *, tools: bool = True) -> None:
        """Count a row's data (a row that is not an object, or not the format's, counts nothing); `tools`: its tools
        and calls too."""
        from validation.errors import RowProblems

        if not isinstance(row, dict):
            return
        try:
            messages = fmt.to_messages(row)
        except RowProblems:
            return
        messages = [m for m in messages if isinstance(m, dict)]
        if response is not None:
            for i in response.in_scope(messages):
                self.replies += 1
                self.replies_valid += not response.reply_issues(messages[i]["content"], "")
        if not tools:
            return
        declared, _ = declared_tools(row.get("tools"))
        if declared:
            self.with_tools += 1
            self.tools_per_row.append(len(declared))
        row_calls = 0
        for m in messages:
            found = m.get("tool_calls") if m.get("role") == "assistant" else None
            if m.get("role") == "tool":
                self.results += 1
            if not isinstance(found, list) or not found:
                continue
            row_calls += len(found)
            self.parallel += len(found) > 1
            for call in found:
                function = call.get("function") if isinstance(call, dict) else None
                tool = declared.get(function.get("name")) if declared and isinstance(function, dict) else None
                if tool is None or tool.check is None:
                    continue
                arguments, why = arguments_of(function.get("arguments"))
                self.checked += 1
                self.valid += why is None and tool.check.is_valid(arguments)
        if row_calls:
            self.with_calls += 1
            self.calls += row_calls
            self.calls_per_row.append(row_calls)

    def merge(self, other: ToolTally) -> ToolTally:
        """This tally with `other`'s rows after its own; itself."""
        for name, value in vars(other).items():
            setattr(self, name, getattr(self, name) + value)
        return self

    def counts(self, tools: bool, response: ResponseSchema | None) -> tuple[Any, Any]:
        """(ToolCounts, when `tools`; ResponseCounts, with a `response` schema), else None for each."""
        from validation.summaries import ResponseCounts, ToolCounts

        def spread(values: list[int]) -> dict[str, int | float]:
            return {"mean": round(sum(values) / len(values), 3) if values else 0.0, "max": max(values, default=0)}

        counted = ToolCounts(rows_with_tools=self.with_tools, rows_with_calls=self.with_calls,
                             tools_per_row=spread(self.tools_per_row), calls=self.calls,
                             calls_per_conversation=spread(self.calls_per_row), parallel_turns=self.parallel,
                             tool_results=self.results, arguments_checked=self.checked,
                             arguments_valid=self.valid) if tools else None
        replies = ResponseCounts(schema_file=response.name, replies=self.replies, valid=self.replies_valid,
                                 share_valid=round(self.replies_valid / self.replies, 4) if self.replies else None) \
            if response is not None else None
        return counted, replies

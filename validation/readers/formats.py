"""Source formats: detect them, normalise rows to messages, and write conversations back out.

Each `Format` turns a row into raw message dicts (validated afterwards, so problems are
reported with paths into the *source* row) and back. What a target format cannot hold raises
`CannotConvert`; nothing is dropped silently.

| format | row shape |
|---|---|
| messages | {"messages": [{"role", "content", ...}]} (OpenAI / smoltalk) |
| sharegpt | {"conversations": [{"from", "value"}]} |
| alpaca | {"instruction", "input"?, "output", "system"?} |
| prompt-completion | {"prompt", "completion"}: strings or message lists (TRL) |
| qa | {"question", "answer"} (gsm8k) |
| text | {"text": ...} (column configurable, e.g. the-stack-smol `content`) |
| preference, preference-implicit, hh-text, unpaired | pairs and unpaired replies (validation/readers/pairs.py) |
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from functools import partial
from typing import Any, ClassVar, Protocol, runtime_checkable

from validation.readers.decode import json_type, loads_text
from validation.errors import CannotConvert, RowProblems, UnknownName
from validation.readers.fields import Raw, RawShape, merge_fields
from validation.models import ROLE_ALIASES, Conversation, Message, as_dicts
from validation.readers.pairs import PreferenceFormat

SHAREGPT_ROLES = {"human": "user", "user": "user", "gpt": "assistant", "assistant": "assistant",
                  "system": "system", "tool": "tool", "observation": "tool", "function_call": "assistant"}
SHAREGPT_NAMES = {"user": "human", "assistant": "gpt", "system": "system", "tool": "observation"}  # LLaMA-Factory's


@runtime_checkable
class Format(Protocol):
    """What every command asks of a source format, conversation or preference: its name and keys,
    whether a row is one of its rows, where a message of a row is, and the fields the readers
    use. `ConversationFormat` reads a row as one conversation; `PreferenceFormat`
    (validation/readers/pairs.py) as a pair or an unpaired reply."""

    name: str
    keys: frozenset[str]
    column: str
    root: str
    extra_keys: frozenset[str]
    shape: str
    raw: RawShape | None
    list_fields: frozenset[str]
    excludes: frozenset[str]
    preference: bool

    @property
    def uniform(self) -> Callable[[Conversation], Raw] | None: ...

    def matches(self, row: Raw) -> bool: ...

    def to_messages(self, row: Raw) -> list[Any]: ...

    def split(self, row: Raw) -> tuple[list[Any], dict[str, Any]]: ...

    def from_conversation(self, conversation: Conversation) -> Raw: ...

    def path(self, row: Raw, index: int, field: str) -> str: ...


@dataclass(frozen=True)
class ConversationFormat:
    """How one conversation format maps to and from canonical messages."""

    name: str
    keys: frozenset[str]
    to_messages: Callable[[Raw], list[Any]]
    from_conversation: Callable[[Conversation], Raw]
    path: Callable[[Raw, int, str], str]
    column: str = ""
    root: str = ""
    extra_keys: frozenset[str] = field(default_factory=frozenset)
    # What a row holds by design: a conversation to train on; "completion": one assistant message (language-model
    # style text: no prompt expected); "prompt": a prompt to generate from (GRPO-style: no reply expected).
    shape: str = "conversation"
    raw: RawShape | None = None
    # A format whose fields take one of two layouts (prompt-completion: strings, or message lists
    # for anything beyond one user turn and one reply): the layout every conversation fits. A
    # written file takes it for every row once one row needs it: a column holds one type.
    uniform: Callable[[Conversation], Raw] | None = None
    # Fields that may hold a list of messages: a CSV cell keeps one as JSON text (decoded on reading).
    list_fields: frozenset[str] = field(default_factory=frozenset)
    # Keys whose presence means another format (prompt-completion's rows have no `label`).
    excludes: frozenset[str] = field(default_factory=frozenset)
    # What else a row must be to be taken for this format when none is named (prompt-only: its prompt a list of
    # messages, since a text `prompt` beside columns of one's own may well be a reply under another name).
    detected_if: Callable[[Raw], bool] | None = field(default=None, compare=False)
    preference: ClassVar[bool] = False  # rows are conversations

    def matches(self, row: Raw) -> bool:
        return self.keys <= row.keys() and not self.excludes & row.keys() and \
            (self.detected_if is None or self.detected_if(row))

    def split(self, row: Raw) -> tuple[list[Any], dict[str, Any]]:
        """(raw message dicts, metadata = every other field of the row)."""
        messages = self.to_messages(row)
        own = self.keys | self.extra_keys
        return messages, {k: v for k, v in row.items() if k not in own}


def _require(row: Raw, name: str, kind: type | tuple[type, ...] = str) -> Any:
    if name not in row:
        raise RowProblems([(name, "missing-field", f"field {name!r} is missing")])
    value = row[name]
    if not isinstance(value, kind):
        code = "null-content" if value is None and kind is str else "wrong-type"
        expected = "a string" if kind is str else "a list"
        raise RowProblems([(name, code, f"expected {expected}, got {json_type(value)}")])
    return value


def _roles(conv: Conversation) -> list[str]:
    return [m.role for m in conv.messages]


def _plain(conv: Conversation, target: str) -> None:
    """Single-field targets hold only role and text content; refuse anything else."""
    for i, m in enumerate(conv.messages):
        extra = sorted(set(m.to_dict()) - {"role", "content"})
        if extra:
            raise CannotConvert(f"{target} cannot hold messages[{i}] field(s) {', '.join(extra)}")
        _text(m, i, target)


def _text(m: Message, i: int, target: str) -> str:
    """The message's content where `target` holds a text; a list of content parts is refused."""
    if isinstance(m.content, list):
        raise CannotConvert(f"{target} holds text, but messages[{i}].content is a list of content parts (images "
                            "stay in the messages format; `validate --template NAME --fix` joins text-only parts)")
    return m.content or ""


# --- messages ------------------------------------------------------------------------------

def _messages_format(column: str = "messages") -> Format:
    def to_messages(row: Raw) -> list[Any]:
        return _require(row, column, list)

    def from_conversation(conv: Conversation) -> Raw:
        return merge_fields(conv.metadata, {column: as_dicts(conv.messages)})

    return ConversationFormat("messages", frozenset({column}), to_messages, from_conversation,
                  lambda row, i, f: f"{column}[{i}].{f}" if f else f"{column}[{i}]", column=column, root=column,
                  raw=RawShape(column, "role", "content"), list_fields=frozenset({column}))


# --- sharegpt ------------------------------------------------------------------------------

def _sharegpt_to_messages(row: Raw) -> list[Any]:
    turns = _require(row, "conversations", list)
    out, problems = [], []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict):
            problems.append((f"conversations[{i}]", "wrong-type", f"expected an object, got {json_type(turn)}"))
            continue
        source = turn.get("from")
        role = SHAREGPT_ROLES.get(source) if isinstance(source, str) else None
        if role is None:
            if "from" not in turn:
                problems.append((f"conversations[{i}].from", "missing-field", "field 'from' is missing"))
            elif isinstance(source, str) and source.lower() in SHAREGPT_ROLES:
                problems.append((f"conversations[{i}].from", "role-wrong-case",
                                 f"role {source!r} should be {source.lower()!r} (--fix lowercases it)"))
            else:
                alias = ROLE_ALIASES.get(source.lower()) if isinstance(source, str) else None
                hint = f"; --fix maps it to {SHAREGPT_NAMES[alias]!r}" if alias else ""
                problems.append((f"conversations[{i}].from", "unknown-role",
                                 f"unknown ShareGPT role {source!r}; expected one of {', '.join(SHAREGPT_ROLES)}{hint}"))
            continue
        message = {k: v for k, v in turn.items() if k not in ("from", "value")}
        message["role"] = role
        if "value" in turn:
            message["content"] = turn["value"]
        if source == "function_call":  # its value is the calls (kept as they are under tool_calls when given)
            if "tool_calls" not in message:
                message["tool_calls"] = _parse_function_calls(turn.get("value"))
            message["content"] = ""
        out.append(message)
    if problems:
        raise RowProblems(problems)
    return out


def _parse_function_calls(value: Any) -> list[Raw]:
    """The calls of a `function_call` turn: the JSON of one `{"name", "arguments"}` object, or of a
    list of them (parallel calls, as LLaMA-Factory writes them)."""
    try:
        calls = loads_text(value) if isinstance(value, str) else value
    except ValueError:
        calls = None
    calls = calls if isinstance(calls, list) else [calls]
    if not calls or not all(isinstance(c, dict) and isinstance(c.get("name"), str) for c in calls):
        raise RowProblems([("value", "wrong-type", "a function_call turn must hold a JSON object with a 'name' "
                                                   "(or a list of them)")])
    return [{"type": "function", "function": {"name": c["name"], "arguments": c.get("arguments", {})}}
            for c in calls]


def _sharegpt_turn(m: Message) -> Raw:
    """A message as a ShareGPT turn. Tool calls without text become a `function_call` turn (the
    JSON of the call, or of the list of parallel calls) and tool results `observation` turns, as
    LLaMA-Factory reads them; what that form cannot say (call ids, a result's name, extra fields)
    stays on the turn, so reading it back gives the same messages."""
    import json

    fields = {k: v for k, v in m.to_dict().items() if k not in ("role", "content")}
    if m.role == "assistant" and m.tool_calls and m.content == "":
        plain = [{"type": "function", "function": {"name": c.function.name, "arguments": c.function.arguments}}
                 for c in m.tool_calls]
        calls = [{"name": c.function.name, "arguments": c.function.arguments} for c in m.tool_calls]
        if fields["tool_calls"] == plain:  # nothing beyond name and arguments: the value says it all
            del fields["tool_calls"]
        value = json.dumps(calls[0] if len(calls) == 1 else calls, ensure_ascii=False)
        return {"from": "function_call", "value": value, **fields}
    return {"from": SHAREGPT_NAMES[m.role], "value": m.to_dict()["content"], **fields}


def _sharegpt_from(conv: Conversation) -> Raw:
    return merge_fields(conv.metadata, {"conversations": [_sharegpt_turn(m) for m in conv.messages]})


def _sharegpt_path(row: Raw, i: int, f: str) -> str:
    return f"conversations[{i}]." + {"role": "from", "content": "value"}.get(f, f) if f else f"conversations[{i}]"


# --- alpaca --------------------------------------------------------------------------------

def _alpaca_to_messages(row: Raw) -> list[Any]:
    instruction = _require(row, "instruction")
    output = _require(row, "output")
    extra = row.get("input") or ""
    if not isinstance(extra, str):
        raise RowProblems([("input", "wrong-type", f"expected a string, got {json_type(extra)}")])
    user = f"{instruction}\n\n{extra}" if extra else instruction
    messages = [{"role": "user", "content": user}, {"role": "assistant", "content": output}]
    if row.get("system"):
        messages.insert(0, {"role": "system", "content": row["system"]})
    return messages


def _alpaca_from(conv: Conversation) -> Raw:
    _plain(conv, "alpaca")
    roles = _roles(conv)
    if roles not in (["user", "assistant"], ["system", "user", "assistant"]):
        raise CannotConvert(f"alpaca holds one user turn and one reply (optionally a system prompt), "
                            f"not {' → '.join(roles)}")
    fields = {"instruction": conv.messages[-2].content, "input": "", "output": conv.messages[-1].content}
    if roles[0] == "system":
        fields["system"] = conv.messages[0].content
    return merge_fields(conv.metadata, fields)


def _alpaca_path(row: Raw, i: int, f: str) -> str:
    return ["system", "instruction", "output"][i + (0 if row.get("system") else 1)]


# --- prompt-completion ---------------------------------------------------------------------

def _pc_to_messages(row: Raw) -> list[Any]:
    prompt, completion = row.get("prompt"), row.get("completion")
    if "prompt" not in row or "completion" not in row:
        missing = "prompt" if "prompt" not in row else "completion"
        raise RowProblems([(missing, "missing-field", f"field {missing!r} is missing")])
    if isinstance(prompt, list) and isinstance(completion, list):
        return [*prompt, *completion]
    if isinstance(prompt, str) and isinstance(completion, str):
        return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": completion}]


def _pc_from(conv: Conversation, *, lists: bool = False) -> Raw:
    """Strings for one plain user turn and its reply (unless `lists`), else TRL's message lists."""
    roles = _roles(conv)
    if not roles or roles[-1] != "assistant":
        raise CannotConvert("prompt-completion needs the conversation to end with an assistant turn")
    plain = all(set(m.to_dict()) == {"role", "content"} and isinstance(m.content, str) for m in conv.messages)
    if roles == ["user", "assistant"] and plain and not lists:
        return merge_fields(conv.metadata, {"prompt": conv.messages[0].content, "completion": conv.messages[1].content})
    return merge_fields(conv.metadata, {"prompt": as_dicts(conv.messages[:-1]),
                                        "completion": as_dicts(conv.messages[-1:])})


def _pc_path(row: Raw, i: int, f: str) -> str:
    prompt = row.get("prompt")
    if not isinstance(prompt, list):
        return ["prompt", "completion"][i]
    where = f"prompt[{i}]" if i < len(prompt) else f"completion[{i - len(prompt)}]"
    return f"{where}.{f}" if f else where


# --- prompt-only ---------------------------------------------------------------------------

def _prompt_to_messages(row: Raw) -> list[Any]:
    """A prompt to generate from: TRL's prompt-only rows, `prompt` a list of messages or a text (one
    user turn); every other field (the reference answer, reward metadata) is the row's metadata."""
    prompt = _require(row, "prompt", (str, list))
    return [{"role": "user", "content": prompt}] if isinstance(prompt, str) else prompt


def _prompt_from(conv: Conversation) -> Raw:
    """The conversation as a prompt (a list of messages); a final assistant reply becomes the row's
    `answer` (the reference a reward function compares with), so no text is lost."""
    messages, metadata = conv.messages, dict(conv.metadata)
    if messages and messages[-1].role == "assistant":
        last = messages[-1]
        if set(last.to_dict()) != {"role", "content"}:
            raise CannotConvert("prompt-only keeps a final reply as the row's answer, a text: this reply has more "
                                "than text (calls, reasoning or other fields)")
        if "answer" in metadata:
            raise CannotConvert("prompt-only keeps a final reply as the row's answer, but the row already has one")
        messages, metadata["answer"] = messages[:-1], _text(last, len(messages) - 1, "prompt-only's answer")
    if not messages:
        raise CannotConvert("prompt-only needs a prompt: the conversation is one reply")
    return merge_fields(metadata, {"prompt": as_dicts(messages)})


def _prompt_path(row: Raw, i: int, f: str) -> str:
    if not isinstance(row.get("prompt"), list):
        return "prompt"
    return f"prompt[{i}].{f}" if f else f"prompt[{i}]"


# --- qa ------------------------------------------------------------------------------------

def _qa_to_messages(row: Raw) -> list[Any]:
    question = _require(row, "question")
    answer = _require(row, "answer")
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


def _qa_from(conv: Conversation) -> Raw:
    _plain(conv, "qa")
    if _roles(conv) == ["user"] and isinstance(conv.metadata.get("answer"), str):  # a prompt and its answer
        return {"question": conv.messages[0].content, **conv.metadata}
    if _roles(conv) != ["user", "assistant"]:
        raise CannotConvert(f"qa holds one question and one answer, not {' → '.join(_roles(conv))}")
    return merge_fields(conv.metadata, {"question": conv.messages[0].content, "answer": conv.messages[1].content})


# --- text ----------------------------------------------------------------------------------

def _text_format(column: str = "text") -> Format:
    """A plain text column: one assistant message, every token trained (language-model SFT)."""

    def to_messages(row: Raw) -> list[Any]:
        return [{"role": "assistant", "content": _require(row, column)}]

    def from_conversation(conv: Conversation) -> Raw:
        _plain(conv, "text")
        if _roles(conv) != ["assistant"]:
            raise CannotConvert("text holds a single text; render multi-turn conversations with "
                                "`instructkit render` instead")
        return merge_fields(conv.metadata, {column: conv.messages[0].content})

    return ConversationFormat("text", frozenset({column}), to_messages, from_conversation, lambda row, i, f: column,
                  column=column, shape="completion")


def get_format(name: str, *, column: str | None = None) -> Format:
    """The `Format` called `name`; `column` renames the messages or text column."""
    if name == "messages":
        return _messages_format(column or "messages")
    if name == "text":
        return _text_format(column or "text")
    if name in _FIXED:
        return _FIXED[name]
    if name in PREFERENCE_NAMES:
        return PreferenceFormat.named(name)
    raise UnknownName.among("format", name, FORMAT_NAMES)


_FIXED = {
    "sharegpt": ConversationFormat("sharegpt", frozenset({"conversations"}), _sharegpt_to_messages, _sharegpt_from,
                       _sharegpt_path, root="conversations", list_fields=frozenset({"conversations"}),
                       raw=RawShape("conversations", "from", "value", {
                           name: role for name, role in SHAREGPT_ROLES.items() if name != "function_call"})),
    "alpaca": ConversationFormat("alpaca", frozenset({"instruction", "output"}), _alpaca_to_messages, _alpaca_from,
                     _alpaca_path, extra_keys=frozenset({"input", "system"})),
    "prompt-completion": ConversationFormat("prompt-completion", frozenset({"prompt", "completion"}), _pc_to_messages,
                                _pc_from, _pc_path, uniform=partial(_pc_from, lists=True),
                                list_fields=frozenset({"prompt", "completion"}), excludes=frozenset({"label"})),
    "qa": ConversationFormat("qa", frozenset({"question", "answer"}), _qa_to_messages, _qa_from,
                 lambda row, i, f: ["question", "answer"][i]),
    "prompt-only": ConversationFormat("prompt-only", frozenset({"prompt"}), _prompt_to_messages, _prompt_from,
                                      _prompt_path, root="prompt", list_fields=frozenset({"prompt"}), shape="prompt",
                                      excludes=frozenset({"completion", "chosen", "rejected", "label"}),
                                      detected_if=lambda row: isinstance(row.get("prompt"), list)),
}
PREFERENCE_NAMES = ("preference", "preference-implicit", "hh-text", "unpaired")  # validation/readers/pairs.py
FORMAT_NAMES = ("messages", "sharegpt", "alpaca", "prompt-completion", "qa", "text", "prompt-only", *PREFERENCE_NAMES)


def rank_formats(rows: Iterable[Raw], *, column: str | None = None) -> list[tuple[Format, int]]:
    """Every format that fits at least one row, with how many rows it fits, most first (ties by name).

    A row fits a format when it has that format's keys; `text` fits a string `text` column (or
    `column`), or the-stack-smol's `content`, when no other format fits the row.
    """
    counts: dict[tuple[str, str | None], int] = {}
    candidates = [get_format(name, column=column) for name in FORMAT_NAMES if name != "text"]  # made once
    for row in rows:
        fits = {(fmt.name, column) for fmt in candidates if fmt.matches(row)}
        if not fits:
            fits = {("text", c) for c in ((column,) if column else ("text", "content"))
                    if isinstance(row.get(c), str)}
        for key in fits:
            counts[key] = counts.get(key, 0) + 1
    ranked = sorted(counts.items(), key=lambda item: (-item[1], FORMAT_NAMES.index(item[0][0]), item[0][1] or ""))
    return [(get_format(name, column=col), n) for (name, col), n in ranked]


def clear_winner(ranked: list[tuple[Format, int]], sampled: int) -> Format | None:
    """The format of a sample, by majority: the one that fits the most rows wins when it fits more
    than half of the `sampled` rows and at least twice as many as the next one; else None.
    Rows it does not fit are then reported at their row (`missing-field` and the like)."""
    if not ranked or 2 * ranked[0][1] <= sampled or (len(ranked) > 1 and ranked[0][1] < 2 * ranked[1][1]):
        return None
    return ranked[0][0]


def detect(rows: Iterable[Raw], *, column: str | None = None) -> Format | None:
    """The format of a sample of rows, chosen by a clear majority (`clear_winner`); None when no
    format fits most rows clearly, so a mixed file is reported instead of guessed from its first row.

    Example:
        >>> detect([{"question": "1+1?", "answer": "2"}]).name
        'qa'
        >>> detect([{"question": "q", "answer": "a"}] * 9 + [{"question": "q"}]).name  # one bad row
        'qa'
        >>> detect([{"question": "q", "answer": "a"}, {"instruction": "i", "output": "o"}]) is None
        True
    """
    rows = list(rows)
    return clear_winner(rank_formats(rows, column=column), len(rows))

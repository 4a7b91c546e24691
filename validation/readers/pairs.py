"""Preference data (DPO, KTO): the shapes it comes in, read into one model, checked, written back.

| format | row shape |
|---|---|
| preference | {"prompt", "chosen", "rejected"}: strings, or message lists (TRL's explicit prompt) |
| preference-implicit | {"chosen", "rejected"}: two whole conversations sharing a prompt (TRL's implicit) |
| hh-text | {"chosen", "rejected"}: `"\\n\\nHuman: …\\n\\nAssistant: …"` transcripts (Anthropic HH-RLHF) |
| unpaired | {"prompt", "completion", "label"}: one reply, desirable (true) or not (TRL's unpaired, KTO) |

Each format reads a row into a `RawPair` (raw message dicts, validated afterwards so that
problems are reported at paths into the source row) and writes a `Preference` or `Unpaired` back.
A pair's prompt is the messages before the replies; in the implicit and transcript forms it is
the messages both conversations start with, cut at whole messages (never inside one).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

from validation.readers.decode import json_type
from validation.errors import CannotConvert, InputError, RowProblems
from validation.checks.prover import hash_conversation
from validation.readers.fields import Raw, merge_fields
from validation.models import Message, Preference, Unpaired, as_dicts

Where = Callable[[str, int, str], str]  # (part, index in that part, field) -> path in the source row
HUMAN, ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "
TURN = re.compile(r"\n\n(Human|Assistant): ")


@dataclass(frozen=True)
class RawPair:
    """A row's parts as raw message dicts: the prompt, the chosen reply (an unpaired row's
    completion) and the rejected one (None for an unpaired row), its label (unpaired only),
    and where each message of each part is in the source row."""

    prompt: list[Any]
    chosen: list[Any]
    rejected: list[Any] | None
    where: Where
    label: Any = None


def _field(row: Raw, name: str, *, string_role: str | None = None) -> list[Any]:
    """A part given as a string (one message of `string_role`) or a message list."""
    if name not in row:
        raise RowProblems([(name, "missing-field", f"field {name!r} is missing")])
    value = row[name]
    if isinstance(value, str) and string_role is not None:
        return [{"role": string_role, "content": value}]
    if isinstance(value, list):
        return value
    code = "null-content" if value is None else "wrong-type"
    raise RowProblems([(name, code, f"expected a string or a list of messages, got {json_type(value)}")])


def _at(name: str, value: Any, i: int, f: str) -> str:
    if not isinstance(value, list):
        return name
    return f"{name}[{i}].{f}" if f else f"{name}[{i}]"


def _same_kind(row: Raw, names: Sequence[str]) -> None:
    """TRL reads a row's parts all as text or all as messages, never mixed."""
    kinds = {isinstance(row[n], str) for n in names}
    if len(kinds) > 1:
        raise RowProblems([(names[-1], "wrong-type", f"{', '.join(names)} mix strings and message lists: give all "
                                                   "as strings or all as message lists")])


# --- preference (explicit prompt) --------------------------------------------------------------

def _explicit_pair(row: Raw) -> RawPair:
    prompt = _field(row, "prompt", string_role="user")
    chosen = _field(row, "chosen", string_role="assistant")
    rejected = _field(row, "rejected", string_role="assistant")
    _same_kind(row, ("prompt", "chosen", "rejected"))
    return RawPair(prompt, chosen, rejected, lambda part, i, f: _at(part, row[part], i, f))


def _explicit_row(pair: Preference | Unpaired) -> list[Raw]:
    if not isinstance(pair, Preference):
        raise CannotConvert("an unpaired row holds one reply: a preference pair needs a chosen and a rejected one")
    return [merge_fields(pair.metadata, {"prompt": as_dicts(pair.prompt), "chosen": as_dicts(pair.chosen),
                                   "rejected": as_dicts(pair.rejected)})]


# --- preference-implicit (shared prefix) --------------------------------------------------------

def shared_prefix(chosen: Sequence[Any], rejected: Sequence[Any]) -> int:
    """How many messages the two conversations start with in common."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    return n


def raw_fold_alike(chosen: list[Any], rejected: list[Any]) -> bool:
    """`fold_alike` of two conversations as message dicts: the same roles and other fields, contents
    equal after the fold (case, whitespace)."""
    if len(chosen) != len(rejected) or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and
                                               isinstance(m.get("content"), str) for m in (*chosen, *rejected)):
        return False
    if any({k: v for k, v in a.items() if k != "content"} != {k: v for k, v in b.items() if k != "content"}
           for a, b in zip(chosen, rejected)):
        return False
    return hash_conversation([m["role"] for m in chosen], [m["content"] for m in chosen])[1] == \
        hash_conversation([m["role"] for m in rejected], [m["content"] for m in rejected])[1]


def _split_conversations(chosen: list[Any], rejected: list[Any], where: Callable[[str, int, str], str]) -> RawPair:
    """The pair two whole conversations make: the messages they share, then where they differ.
    `where(part, i, field)` places message `i` of conversation `part` in the source row."""
    n = shared_prefix(chosen, rejected)
    if chosen == rejected:
        raise RowProblems([(where("rejected", 0, "").split("[")[0], "identical-pair",
                          "rejected is the same conversation as chosen: the pair teaches nothing")])
    if n == 0:  # (the cause, when the two differ only in case or whitespace, first)
        alike = [(where("rejected", 0, "").split("[")[0], "near-identical-pair", "rejected differs from chosen only "
                  "in case or whitespace: the preference is about nothing a reader would see")] \
            if raw_fold_alike(chosen, rejected) else []
        raise RowProblems([*alike, (where("rejected", 0, ""), "no-shared-prompt",
                                  "chosen and rejected share no first message: an implicit pair's prompt is the "
                                  "messages both conversations start with")])
    for part, messages in (("chosen", chosen), ("rejected", rejected)):
        if n == len(messages):
            raise RowProblems([(where(part, n - 1, ""), "empty-completion",
                              f"{part} ends where the shared prompt ends: it has no reply")])
        first = messages[n]
        if isinstance(first, dict) and first.get("role") not in ("assistant", None):
            raise RowProblems([(where(part, n, "role"), "prompt-mismatch",
                              f"chosen and rejected differ at message {n}, a {first.get('role')!r} turn: the prompt "
                              "must be the same in both, and only the replies differ")])

    def placed(part: str, i: int, f: str) -> str:  # the prompt is reported in the chosen conversation
        return where("chosen", i, f) if part == "prompt" else where(part, n + i, f)

    return RawPair(chosen[:n], chosen[n:], rejected[n:], placed)


def _implicit_pair(row: Raw) -> RawPair:
    chosen, rejected = (_field(row, name) for name in ("chosen", "rejected"))
    return _split_conversations(chosen, rejected, lambda part, i, f: _at(part, row[part], i, f))


def _implicit_row(pair: Preference | Unpaired) -> list[Raw]:
    if not isinstance(pair, Preference):
        raise CannotConvert("an unpaired row holds one reply: a preference pair needs a chosen and a rejected one")
    if pair.chosen == pair.rejected:
        raise CannotConvert("chosen and rejected are the same reply (identical-pair): as two whole conversations "
                            "nothing would tell where the prompt ends")
    if pair.chosen and pair.rejected and pair.chosen[0] == pair.rejected[0]:
        raise CannotConvert("both replies begin with the same message: written as two whole conversations, it "
                            "would be read back as part of the prompt")
    prompt = as_dicts(pair.prompt)
    return [merge_fields(pair.metadata, {"chosen": prompt + as_dicts(pair.chosen),
                                   "rejected": prompt + as_dicts(pair.rejected)})]


# --- hh-text (transcripts) -----------------------------------------------------------------------

def transcript_messages(text: str) -> list[Raw] | None:
    """The turns of a `\\n\\nHuman: …\\n\\nAssistant: …` transcript; None when it is not one."""
    marks = list(TURN.finditer(text))
    if not marks or marks[0].start() != 0:
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [{"role": "user" if m.group(1) == "Human" else "assistant", "content": text[m.end():end]}
            for m, end in zip(marks, ends)]


def _hh_pair(row: Raw) -> RawPair:
    parts = {}
    for name in ("chosen", "rejected"):
        if name not in row:
            raise RowProblems([(name, "missing-field", f"field {name!r} is missing")])
        value = row[name]
        if not isinstance(value, str):
            raise RowProblems([(name, "wrong-type", f"expected a transcript string, got {json_type(value)}")])
        messages = transcript_messages(value)
        if messages is None:
            raise RowProblems([(name, "not-a-transcript", "a transcript starts with '\\n\\nHuman: ' and alternates "
                                                      "'\\n\\nHuman: ' and '\\n\\nAssistant: ' turns")])
        parts[name] = messages
    return _split_conversations(parts["chosen"], parts["rejected"], lambda part, i, f: part)


def transcript(messages: Sequence[Message]) -> str:
    """Messages as an HH-RLHF transcript; CannotConvert for what one cannot hold."""
    out = []
    for m in messages:
        if m.role not in ("user", "assistant") or set(m.to_dict()) != {"role", "content"}:
            what = m.role if m.role not in ("user", "assistant") else "fields beyond role and content"
            raise CannotConvert(f"hh-text holds user and assistant turns of plain text, not {what}")
        if TURN.search(m.content):
            raise CannotConvert("a message holds a '\\n\\nHuman: ' or '\\n\\nAssistant: ' marker: the transcript "
                                "would read back as other turns")
        out.append((HUMAN if m.role == "user" else ASSISTANT) + m.content)
    return "".join(out)


def _hh_row(pair: Preference | Unpaired) -> list[Raw]:
    if not isinstance(pair, Preference):
        raise CannotConvert("an unpaired row holds one reply: a preference pair needs a chosen and a rejected one")
    _implicit_row(pair)  # the same limits: two whole conversations
    return [merge_fields(pair.metadata, {"chosen": transcript(pair.prompt + pair.chosen),
                                   "rejected": transcript(pair.prompt + pair.rejected)})]


# --- unpaired (KTO) ------------------------------------------------------------------------------

def _unpaired_pair(row: Raw) -> RawPair:
    prompt = _field(row, "prompt", string_role="user")
    completion = _field(row, "completion", string_role="assistant")
    _same_kind(row, ("prompt", "completion"))
    if "label" not in row:
        raise RowProblems([("label", "missing-field", "field 'label' is missing")])
    if not isinstance(row["label"], bool):
        raise RowProblems([("label", "wrong-type", f"label must be true or false, got {json_type(row['label'])}")])
    return RawPair(prompt, completion, None,
                   lambda part, i, f: _at("completion" if part == "chosen" else part,
                                          row["completion" if part == "chosen" else part], i, f), row["label"])


def _unpaired_rows(pair: Preference | Unpaired) -> list[Raw]:
    """An unpaired row as it is; a pair as two rows (chosen: true, rejected: false), as TRL's
    `unpair_preference_dataset` does."""
    if isinstance(pair, Unpaired):
        return [merge_fields(pair.metadata, {"prompt": as_dicts(pair.prompt), "completion": as_dicts(pair.completion),
                                       "label": pair.label})]
    return [merge_fields(pair.metadata, {"prompt": as_dicts(pair.prompt), "completion": as_dicts(reply), "label": label})
            for reply, label in ((pair.chosen, True), (pair.rejected, False))]


# --- reading and writing -------------------------------------------------------------------------

READERS: dict[str, Callable[[Raw], RawPair]] = {
    "preference": _explicit_pair, "preference-implicit": _implicit_pair, "hh-text": _hh_pair,
    "unpaired": _unpaired_pair}
WRITERS: dict[str, Callable[[Preference | Unpaired], list[Raw]]] = {
    "preference": _explicit_row, "preference-implicit": _implicit_row, "hh-text": _hh_row,
    "unpaired": _unpaired_rows}


def to_pair(raw: RawPair, messages: Sequence[Sequence[Message]], metadata: dict[str, Any]) -> Preference | Unpaired:
    """The canonical value of a row checked valid: `messages` are its parts, validated."""
    if raw.rejected is None:
        return Unpaired(prompt=list(messages[0]), completion=list(messages[1]), label=raw.label, metadata=metadata)
    return Preference(prompt=list(messages[0]), chosen=list(messages[1]), rejected=list(messages[2]),
                      metadata=metadata)


PAIR_KEYS: dict[str, tuple[str, ...]] = {
    "preference": ("prompt", "chosen", "rejected"), "preference-implicit": ("chosen", "rejected"),
    "hh-text": ("chosen", "rejected"), "unpaired": ("prompt", "completion", "label")}


def accepts_pair(name: str, row: Raw) -> bool:
    """Does `row` look like format `name`? (The two whole-conversation forms differ in type.)"""
    if name == "preference-implicit":
        return "prompt" not in row and isinstance(row.get("chosen"), list)
    if name == "hh-text":
        return "prompt" not in row and isinstance(row.get("chosen"), str)
    return True


@dataclass(frozen=True)
class PreferenceFormat:
    """A preference format: each row is a pair (or an unpaired, labelled reply), not one
    conversation. `validate`, `convert`, `stats`, `audit` and `train` (dpo, kto) read its rows as
    pairs (`READERS`, `WRITERS`); a command that reads conversations is told so by `to_messages`,
    and a conversation cannot be written as a pair (`from_conversation`)."""

    name: str
    keys: frozenset[str]
    list_fields: frozenset[str] = frozenset()  # a CSV cell may keep a message list as JSON text
    excludes: frozenset[str] = frozenset()  # keys whose presence means another format
    preference: ClassVar[bool] = True
    # what the conversation readers ask of every format: nothing of these applies to pairs
    column: ClassVar[str] = ""
    root: ClassVar[str] = ""
    extra_keys: ClassVar[frozenset[str]] = frozenset()
    shape: ClassVar[str] = "conversation"
    raw: ClassVar[None] = None
    uniform: ClassVar[None] = None

    @classmethod
    def named(cls, name: str) -> PreferenceFormat:
        lists = frozenset(k for k in PAIR_KEYS[name] if k != "label")
        return cls(name, frozenset(PAIR_KEYS[name]), lists if name != "hh-text" else frozenset(),
                   frozenset({"prompt"}) if name in ("preference-implicit", "hh-text") else frozenset())

    def matches(self, row: Raw) -> bool:
        return self.keys <= row.keys() and not self.excludes & row.keys() and accepts_pair(self.name, row)

    def to_messages(self, row: Raw) -> list[Any]:
        raise InputError(f"these rows are preference data (format {self.name}): `validate`, `convert`, `stats`, "
                         "`audit` and `train` (method: dpo or kto) read them; this command reads conversations")

    def split(self, row: Raw) -> tuple[list[Any], dict[str, Any]]:
        return self.to_messages(row), {}

    def from_conversation(self, conversation: Any) -> Raw:
        raise CannotConvert(f"a conversation holds one reply: {self.name} needs a preference (a chosen and a "
                            "rejected reply, or a labelled one)")

    def path(self, row: Raw, index: int, field: str) -> str:
        return ""


def metadata_of(name: str, row: Raw) -> dict[str, Any]:
    """Every field of the row that is not one of the format's own."""
    return {k: v for k, v in row.items() if k not in PAIR_KEYS[name]}




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
from typing import Any

from validation.decode import json_type
from validation.errors import CannotConvert
from validation.formats import _merge
from validation.models import Message, Preference, Unpaired, as_dicts

Raw = dict[str, Any]
Where = Callable[[str, int, str], str]  # (part, index in that part, field) -> path in the source row
HUMAN, ASSISTANT = "\n\nHuman: ", "\n\nAssistant: "
_TURN = re.compile(r"\n\n(Human|Assistant): ")


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


class PairError(Exception):
    """Structural problems of one preference row: (path, code, message) each, as FormatError."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, _, m in problems))
        self.problems = problems


def _field(row: Raw, name: str, *, string_role: str | None = None) -> list[Any]:
    """A part given as a string (one message of `string_role`) or a message list."""
    if name not in row:
        raise PairError([(name, "missing-field", f"field {name!r} is missing")])
    value = row[name]
    if isinstance(value, str) and string_role is not None:
        return [{"role": string_role, "content": value}]
    if isinstance(value, list):
        return value
    code = "null-content" if value is None else "wrong-type"
    raise PairError([(name, code, f"expected a string or a list of messages, got {json_type(value)}")])


def _at(name: str, value: Any, i: int, f: str) -> str:
    if not isinstance(value, list):
        return name
    return f"{name}[{i}].{f}" if f else f"{name}[{i}]"


def _same_kind(row: Raw, names: Sequence[str]) -> None:
    """TRL reads a row's parts all as text or all as messages, never mixed."""
    kinds = {isinstance(row[n], str) for n in names}
    if len(kinds) > 1:
        raise PairError([(names[-1], "wrong-type", f"{', '.join(names)} mix strings and message lists: give all "
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
    return [_merge(pair.metadata, {"prompt": as_dicts(pair.prompt), "chosen": as_dicts(pair.chosen),
                                   "rejected": as_dicts(pair.rejected)})]


# --- preference-implicit (shared prefix) --------------------------------------------------------

def shared_prefix(chosen: Sequence[Any], rejected: Sequence[Any]) -> int:
    """How many messages the two conversations start with in common."""
    n = 0
    while n < min(len(chosen), len(rejected)) and chosen[n] == rejected[n]:
        n += 1
    return n


def _split_conversations(chosen: list[Any], rejected: list[Any], where: Callable[[str, int, str], str]) -> RawPair:
    """The pair two whole conversations make: the messages they share, then where they differ.
    `where(part, i, field)` places message `i` of conversation `part` in the source row."""
    n = shared_prefix(chosen, rejected)
    if chosen == rejected:
        raise PairError([(where("rejected", 0, "").split("[")[0], "identical-pair",
                          "rejected is the same conversation as chosen: the pair teaches nothing")])
    if n == 0:  # (the cause, when the two differ only in case or whitespace, first)
        alike = [(where("rejected", 0, "").split("[")[0], "near-identical-pair", "rejected differs from chosen only "
                  "in case or whitespace: the preference is about nothing a reader would see")] \
            if _raw_fold_alike(chosen, rejected) else []
        raise PairError([*alike, (where("rejected", 0, ""), "no-shared-prompt",
                                  "chosen and rejected share no first message: an implicit pair's prompt is the "
                                  "messages both conversations start with")])
    for part, messages in (("chosen", chosen), ("rejected", rejected)):
        if n == len(messages):
            raise PairError([(where(part, n - 1, ""), "empty-completion",
                              f"{part} ends where the shared prompt ends: it has no reply")])
        first = messages[n]
        if isinstance(first, dict) and first.get("role") not in ("assistant", None):
            raise PairError([(where(part, n, "role"), "prompt-mismatch",
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
    return [_merge(pair.metadata, {"chosen": prompt + as_dicts(pair.chosen),
                                   "rejected": prompt + as_dicts(pair.rejected)})]


# --- hh-text (transcripts) -----------------------------------------------------------------------

def transcript_messages(text: str) -> list[Raw] | None:
    """The turns of a `\\n\\nHuman: …\\n\\nAssistant: …` transcript; None when it is not one."""
    marks = list(_TURN.finditer(text))
    if not marks or marks[0].start() != 0:
        return None
    ends = [m.start() for m in marks[1:]] + [len(text)]
    return [{"role": "user" if m.group(1) == "Human" else "assistant", "content": text[m.end():end]}
            for m, end in zip(marks, ends)]


def _hh_pair(row: Raw) -> RawPair:
    parts = {}
    for name in ("chosen", "rejected"):
        if name not in row:
            raise PairError([(name, "missing-field", f"field {name!r} is missing")])
        value = row[name]
        if not isinstance(value, str):
            raise PairError([(name, "wrong-type", f"expected a transcript string, got {json_type(value)}")])
        messages = transcript_messages(value)
        if messages is None:
            raise PairError([(name, "not-a-transcript", "a transcript starts with '\\n\\nHuman: ' and alternates "
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
        if _TURN.search(m.content):
            raise CannotConvert("a message holds a '\\n\\nHuman: ' or '\\n\\nAssistant: ' marker: the transcript "
                                "would read back as other turns")
        out.append((HUMAN if m.role == "user" else ASSISTANT) + m.content)
    return "".join(out)


def _hh_row(pair: Preference | Unpaired) -> list[Raw]:
    if not isinstance(pair, Preference):
        raise CannotConvert("an unpaired row holds one reply: a preference pair needs a chosen and a rejected one")
    _implicit_row(pair)  # the same limits: two whole conversations
    return [_merge(pair.metadata, {"chosen": transcript(pair.prompt + pair.chosen),
                                   "rejected": transcript(pair.prompt + pair.rejected)})]


# --- unpaired (KTO) ------------------------------------------------------------------------------

def _unpaired_pair(row: Raw) -> RawPair:
    prompt = _field(row, "prompt", string_role="user")
    completion = _field(row, "completion", string_role="assistant")
    _same_kind(row, ("prompt", "completion"))
    if "label" not in row:
        raise PairError([("label", "missing-field", "field 'label' is missing")])
    if not isinstance(row["label"], bool):
        raise PairError([("label", "wrong-type", f"label must be true or false, got {json_type(row['label'])}")])
    return RawPair(prompt, completion, None,
                   lambda part, i, f: _at("completion" if part == "chosen" else part,
                                          row["completion" if part == "chosen" else part], i, f), row["label"])


def _unpaired_rows(pair: Preference | Unpaired) -> list[Raw]:
    """An unpaired row as it is; a pair as two rows (chosen: true, rejected: false), as TRL's
    `unpair_preference_dataset` does."""
    if isinstance(pair, Unpaired):
        return [_merge(pair.metadata, {"prompt": as_dicts(pair.prompt), "completion": as_dicts(pair.completion),
                                       "label": pair.label})]
    return [_merge(pair.metadata, {"prompt": as_dicts(pair.prompt), "completion": as_dicts(reply), "label": label})
            for reply, label in ((pair.chosen, True), (pair.rejected, False))]


# --- reading and writing -------------------------------------------------------------------------

READERS: dict[str, Callable[[Raw], RawPair]] = {
    "preference": _explicit_pair, "preference-implicit": _implicit_pair, "hh-text": _hh_pair,
    "unpaired": _unpaired_pair}
WRITERS: dict[str, Callable[[Preference | Unpaired], list[Raw]]] = {
    "preference": _explicit_row, "preference-implicit": _implicit_row, "hh-text": _hh_row,
    "unpaired": _unpaired_rows}
KEYS = {"preference": ("prompt", "chosen", "rejected"), "preference-implicit": ("chosen", "rejected"),
        "hh-text": ("chosen", "rejected"), "unpaired": ("prompt", "completion", "label")}


def accepts(name: str, row: Raw) -> bool:
    """Does `row` look like format `name`? (The two whole-conversation forms differ in type.)"""
    if name == "preference-implicit":
        return "prompt" not in row and isinstance(row.get("chosen"), list)
    if name == "hh-text":
        return "prompt" not in row and isinstance(row.get("chosen"), str)
    return True


def to_pair(raw: RawPair, messages: Sequence[Sequence[Message]], metadata: dict[str, Any]) -> Preference | Unpaired:
    """The canonical value of a row checked valid: `messages` are its parts, validated."""
    if raw.rejected is None:
        return Unpaired(prompt=list(messages[0]), completion=list(messages[1]), label=raw.label, metadata=metadata)
    return Preference(prompt=list(messages[0]), chosen=list(messages[1]), rejected=list(messages[2]),
                      metadata=metadata)


def metadata_of(name: str, row: Raw) -> dict[str, Any]:
    """Every field of the row that is not one of the format's own."""
    return {k: v for k, v in row.items() if k not in KEYS[name]}



# --- checks --------------------------------------------------------------------------------------

def read_pair(name: str, data: Raw, row: int, rules: Any = None
              ) -> tuple[Preference | Unpaired | None, list[Any]]:
    """One row of preference format `name` read and its messages checked: (the canonical value,
    None when its parts cannot be read as messages; issues). Each reply is checked with the
    prompt as one conversation (`check_messages`, so every message check applies)."""
    from validation.checks import check_messages
    from validation.report import Issue

    try:
        raw = READERS[name](data)
    except PairError as exc:
        return None, [Issue.make(row, p, code, m) for p, code, m in exc.problems]
    parts = [("chosen", raw.chosen)] + ([("rejected", raw.rejected)] if raw.rejected is not None else [])
    issues: list[Any] = []
    seen: set[tuple[str, str, str]] = set()
    replies: list[list[Message] | None] = []
    prompt: list[Message] | None = None
    for part, reply in parts:
        root = raw.where(part, 0, "").split("[")[0]
        if not reply:
            issues.append(Issue.make(row, root, "empty-completion", f"{root} holds no message: there is no reply"))
            replies.append(None)
            continue
        first = reply[0]
        wrong_role = isinstance(first, dict) and isinstance(first.get("role"), str) and first["role"] != "assistant"
        if wrong_role:
            issues.append(Issue.make(row, raw.where(part, 0, "role"), "completion-not-assistant",
                                     f"{root} begins with a {first['role']!r} turn: a reply is an assistant turn"))

        def path(i: int, f: str, part: str = part) -> str:
            n = len(raw.prompt)
            return raw.where("prompt", i, f) if i < n else raw.where(part, i - n, f)

        messages, found = check_messages(raw.prompt + reply, row, path, root, rules, fields=data)
        for issue in found:
            key = (issue.path, issue.code, issue.message)
            said = wrong_role and issue.code in _SAID_BY_ROLE and issue.path.startswith(root)
            if key not in seen and not said:
                seen.add(key)
                issues.append(issue)
        replies.append(None if messages is None else messages[len(raw.prompt):])
        prompt = prompt if messages is None else messages[:len(raw.prompt)]
    if prompt is None or any(r is None for r in replies) or any(i.code == "completion-not-assistant" for i in issues):
        return None, issues  # (a reply that is not the assistant's: not a pair any format can hold)
    return to_pair(raw, [prompt, *replies], metadata_of(name, data)), issues  # type: ignore[list-item]


def check_pair(name: str, data: Raw, row: int, rules: Any = None
               ) -> tuple[list[Any], str | None, Preference | Unpaired | None]:
    """Validate one row of preference format `name`: (issues, duplicate text, the canonical value),
    the last two None when the row has errors: its messages (`read_pair`), then the pair itself."""
    from validation.checks import message_dup_text

    value, issues = read_pair(name, data, row, rules)
    if name == "hh-text" and value is not None:
        issues += _shared_start(data, row)
    if isinstance(value, Preference):
        issues += _sameness(value.chosen, value.rejected, row, "rejected")
    if value is None or any(i.severity == "error" for i in issues):
        return issues, None, None
    # one text for duplicates: the pair as one conversation, a system message (which no valid row has
    # there) before the rejected reply, or holding an unpaired row's label
    if isinstance(value, Preference):
        replies = value.chosen + [Message(role="system", content=REJECTED)] + value.rejected
    else:
        replies = value.completion + [Message(role="system", content=f"label: {value.label}")]
    return issues, message_dup_text(value.prompt + replies), value


REJECTED = "rejected:"  # the duplicate text's marker before the rejected reply (`fast_pair` writes it too)


FAST_PAIRS = ("preference", "preference-implicit")  # the formats `fast_pair` reads


def fast_pair(data: Raw, rules: Any, name: str = "preference") -> str | None:
    """The duplicate text of a pair of format `name` (explicit, or two whole conversations) whose
    every part is certainly clean — plain messages in a clean order (`checks.fast_clean`), two
    different replies — else None (don't know: `check_pair` decides). Content scans are the
    caller's, once per chunk. (JSONL rows meet the C prover first, which clears the same rows.)"""
    from validation.checks import SEP, fast_clean
    from validation.rowscan import hash_conversation

    try:
        if name == "preference-implicit":  # the prompt: the messages both conversations start with
            chosen, rejected = data["chosen"], data["rejected"]
            if type(chosen) is not list or type(rejected) is not list or "prompt" in data:
                return None
            shared = shared_prefix(chosen, rejected)
            if not shared or len(chosen) != shared + 1 or len(rejected) != shared + 1:
                return None
            prompt, chosen, rejected = chosen[:shared], chosen[shared:], rejected[shared:]
        else:
            prompt, chosen, rejected = data["prompt"], data["chosen"], data["rejected"]
    except (KeyError, TypeError):
        return None
    if type(prompt) is str and type(chosen) is str and type(rejected) is str:
        prompt, chosen, rejected = [{"role": "user", "content": prompt}], [{"role": "assistant", "content": chosen}], \
            [{"role": "assistant", "content": rejected}]
    elif not (type(prompt) is list and type(chosen) is list and type(rejected) is list) or len(chosen) != 1 \
            or len(rejected) != 1:
        return None
    first = fast_clean(prompt + chosen, rules)
    reply = rejected[0]
    # the rejected reply in place of the chosen one: as clean (fast_clean's conditions, for one message)
    if first is None or type(reply) is not dict or len(reply) != 2 or reply.get("role") != "assistant" \
            or type(reply.get("content")) is not str or not reply["content"].strip() or SEP in reply["content"] \
            or chosen == rejected:
        return None
    a, b = chosen[0]["content"], reply["content"]
    if hash_conversation(["assistant"], [a])[1] == hash_conversation(["assistant"], [b])[1]:
        return None  # near-identical: check_pair says so
    sig, text = first.split(SEP, 1)
    return f"{sig}sa{SEP}{text}{SEP}{REJECTED}{SEP}{b}"


# what completion-not-assistant already says of a reply that is not the assistant's
_SAID_BY_ROLE = frozenset({"no-assistant-turn", "trailing-user-turn", "non-alternating"})


def _shared_start(data: Raw, row: int) -> list[Any]:
    """Transcripts whose final replies begin alike: TRL cuts text pairs at their common prefix."""
    import os

    chosen, rejected = data["chosen"], data["rejected"]
    common = os.path.commonprefix([chosen, rejected])
    reply_at = common.rfind(ASSISTANT)
    shared = common[reply_at + len(ASSISTANT):] if reply_at >= 0 else ""
    if not shared or _TURN.search(shared):
        return []
    return [shared_start_issue(row, shared)]


def shared_start_issue(row: int, shared: str) -> Any:
    """The warning of a transcript pair whose replies both begin with `shared` (the C prover finds it too)."""
    from validation.report import Issue

    return Issue.make(row, "rejected", "reply-shares-start",
                      f"both replies begin with {shared[:40]!r}: TRL's extract_prompt would move it into the prompt "
                      "(instructkit cuts at the last Assistant turn)")


def label_balance(labels: Any) -> list[Any]:
    """KTO's balance of desirable (True) and undesirable (False) replies, a finding of the dataset as a
    whole (row 0): one label only (train refuses it), or counts outside the range TRL's KTOTrainer
    recommends for its default weights (desirable_weight x desirable / undesirable_weight x undesirable
    in [1, 1.33], after the KTO paper's Eq. 8), with the weights TRL would suggest."""
    from validation.report import Issue

    good, bad = labels[True], labels[False]
    if not good and not bad:
        return []
    if not good or not bad:
        kind = "desirable (true)" if good else "undesirable (false)"
        return [Issue.make(0, "label", "one-label", f"all {good + bad} valid rows are {kind}: KTO learns from both "
                                                    "kinds, and instructkit train refuses one-label data")]
    desirable = (round(bad / good, 2), round(bad / good * 1.33, 2))  # TRL's bounds, weights 1.0 each
    undesirable = (round(good / bad / 1.33, 2), round(good / bad, 2))
    if desirable[0] <= 1 <= desirable[1] or undesirable[0] <= 1 <= undesirable[1]:
        return []
    return [Issue.make(0, "label", "label-imbalance",
                       f"{good} desirable and {bad} undesirable rows ({good / (good + bad):.0%} desirable): with equal "
                       f"weights one kind outweighs the other; set kto.desirable_weight in [{desirable[0]}, "
                       f"{desirable[1]}] or kto.undesirable_weight in [{undesirable[0]}, {undesirable[1]}] "
                       "(not both), as TRL recommends")]


def fold_alike(chosen: list[Message], rejected: list[Message]) -> bool:
    """Are the two replies equal after the fold duplicates use (case, whitespace)?"""
    from validation.rowscan import hash_conversation

    return hash_conversation([m.role for m in chosen], [m.content for m in chosen])[1] == \
        hash_conversation([m.role for m in rejected], [m.content for m in rejected])[1]


def _raw_fold_alike(chosen: list[Any], rejected: list[Any]) -> bool:
    """`fold_alike` of two conversations as message dicts: the same roles and other fields, contents
    equal after the fold (case, whitespace)."""
    from validation.rowscan import hash_conversation

    if len(chosen) != len(rejected) or not all(isinstance(m, dict) and isinstance(m.get("role"), str) and
                                               isinstance(m.get("content"), str) for m in (*chosen, *rejected)):
        return False
    if any({k: v for k, v in a.items() if k != "content"} != {k: v for k, v in b.items() if k != "content"}
           for a, b in zip(chosen, rejected)):
        return False
    return hash_conversation([m["role"] for m in chosen], [m["content"] for m in chosen])[1] == \
        hash_conversation([m["role"] for m in rejected], [m["content"] for m in rejected])[1]


def _sameness(chosen: list[Message], rejected: list[Message], row: int, root: str) -> list[Any]:
    """Chosen and rejected the same reply: exactly (nothing to learn), or after folding case and
    whitespace (the preference is about nothing the model should learn)."""
    from validation.report import Issue

    if chosen == rejected:
        return [Issue.make(row, root, "identical-pair", "rejected is the same as chosen: the pair teaches nothing "
                                                       "(DPO's loss has no gradient for it)")]
    if fold_alike(chosen, rejected) and [m.model_dump(exclude={"content"}) for m in chosen] == \
            [m.model_dump(exclude={"content"}) for m in rejected]:
        return [Issue.make(row, root, "near-identical-pair", "rejected differs from chosen only in case or "
                                                             "whitespace: the preference is about nothing a reader "
                                                             "would see")]
    return []

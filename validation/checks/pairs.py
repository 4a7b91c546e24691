"""Preference rows checked: each reply with its prompt as one conversation (every message check
applies), then the pair itself (identical or near-identical replies, transcripts whose replies
begin alike), the fast path that clears certainly clean pairs, and KTO's label balance.
Reading the shapes is validation/readers/pairs.py's.
"""

from __future__ import annotations

import os
from typing import Any

from validation.content import comparable_text
from validation.checks.messages import SEP, check_messages, fast_clean, message_dup_text
from validation.checks.prover import hash_conversation
from validation.models import Message, Preference, Unpaired
from validation.errors import RowProblems
from validation.readers.pairs import ASSISTANT, READERS, TURN, metadata_of, shared_prefix, to_pair
from validation.report import Issue


def read_pair(name: str, data: dict[str, Any], row: int, rules: Any = None, images: Any = None
              ) -> tuple[Preference | Unpaired | None, list[Any]]:
    """One row of preference format `name` read and its messages checked: (the canonical value,
    None when its parts cannot be read as messages; issues). Each reply is checked with the
    prompt as one conversation (`check_messages`, so every message check applies; `images`: the
    `ImageChecks` the row's images are read with)."""

    try:
        raw = READERS[name](data)
    except RowProblems as exc:
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

        messages, found = check_messages(raw.prompt + reply, row, path, root, rules, fields=data, images=images)
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


def check_pair(name: str, data: dict[str, Any], row: int, rules: Any = None, images: Any = None
               ) -> tuple[list[Any], str | None, Preference | Unpaired | None]:
    """Validate one row of preference format `name`: (issues, duplicate text, the canonical value),
    the last two None when the row has errors: its messages (`read_pair`), then the pair itself."""

    value, issues = read_pair(name, data, row, rules, images)
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


def fast_pair(data: dict[str, Any], rules: Any, name: str = "preference") -> str | None:
    """The duplicate text of a pair of format `name` (explicit, or two whole conversations) whose
    every part is certainly clean — plain messages in a clean order (`checks.fast_clean`), two
    different replies — else None (don't know: `check_pair` decides). Content scans are the
    caller's, once per chunk. (JSONL rows meet the C prover first, which clears the same rows.)"""

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


def _shared_start(data: dict[str, Any], row: int) -> list[Any]:
    """Transcripts whose final replies begin alike: TRL cuts text pairs at their common prefix."""

    chosen, rejected = data["chosen"], data["rejected"]
    common = os.path.commonprefix([chosen, rejected])
    reply_at = common.rfind(ASSISTANT)
    shared = common[reply_at + len(ASSISTANT):] if reply_at >= 0 else ""
    if not shared or TURN.search(shared):
        return []
    return [shared_start_issue(row, shared)]


def shared_start_issue(row: int, shared: str) -> Any:
    """The warning of a transcript pair whose replies both begin with `shared` (the C prover finds it too)."""

    return Issue.make(row, "rejected", "reply-shares-start",
                      f"both replies begin with {shared[:40]!r}: TRL's extract_prompt would move it into the prompt "
                      "(instructkit cuts at the last Assistant turn)")


def label_balance(labels: Any) -> list[Any]:
    """KTO's balance of desirable (True) and undesirable (False) replies, a finding of the dataset as a
    whole (row 0): one label only (train refuses it), or counts outside the range TRL's KTOTrainer
    recommends for its default weights (desirable_weight x desirable / undesirable_weight x undesirable
    in [1, 1.33], after the KTO paper's Eq. 8), with the weights TRL would suggest."""

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

    return hash_conversation([m.role for m in chosen], [comparable_text(m.content) for m in chosen])[1] == \
        hash_conversation([m.role for m in rejected], [comparable_text(m.content) for m in rejected])[1]


def _sameness(chosen: list[Message], rejected: list[Message], row: int, root: str) -> list[Any]:
    """Chosen and rejected the same reply: exactly (nothing to learn), or after folding case and
    whitespace (the preference is about nothing the model should learn)."""

    if chosen == rejected:
        return [Issue.make(row, root, "identical-pair", "rejected is the same as chosen: the pair teaches nothing "
                                                       "(DPO's loss has no gradient for it)")]
    if fold_alike(chosen, rejected) and [m.model_dump(exclude={"content"}) for m in chosen] == \
            [m.model_dump(exclude={"content"}) for m in rejected]:
        return [Issue.make(row, root, "near-identical-pair", "rejected differs from chosen only in case or "
                                                             "whitespace: the preference is about nothing a reader "
                                                             "would see")]
    return []

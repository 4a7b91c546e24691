"""Per-row checks: a fast path that proves a row clean, and a precise path that names problems.

`fast_clean` only answers "certainly clean" (returning what the dataset-level checks need) or
"don't know"; every row it does not clear goes through `check_messages`, which reports each
problem with its code and the path into the source row. A property test keeps the two paths
in agreement: a row `fast_clean` accepts has no issue in the precise path.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Any

import orjson
from pydantic import ValidationError

from validation._rowscan import has_control_char
from validation.readers.decode import json_type
from validation.checks.images import ImageChecks, row_images
from validation.checks.parts import joined_text, part_issues, part_roles, parts_issue, strings_cleared
from validation.content import TextPart, comparable_text, text_of
from validation.models import ROLES, ROLE_ALIASES, Message
from validation.checks.reasoning import (REASONING_ERRORS, REASONING_FIELDS, THINK_TAGS, reasoning_issues, reasoning_of,
                                  template_reasoning_issues)
from validation.report import Issue
from validation.checks.rules import TemplateRules
from validation.checks.tools import arguments_of, call_issues, declared_tools

# Control characters other than \t \n \r; DEL included.
CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# Bidirectional embeddings, overrides and isolates: they reorder how text is displayed, hiding from
# a reviewer what the model trains on ("Trojan Source"). Marks (U+200E, U+200F) are not among them.
BIDI = re.compile("[\u202a-\u202e\u2066-\u2069]")
# What the fast paths leave to the precise one (which reports each): the control class without SEP
# (a SEP inside content is caught by count), and the bidirectional controls.
_JOINED_CONTROL = r"[\x00-\x08\x0b\x0c\x0e-\x1e\x7f" + "\u202a-\u202e\u2066-\u2069]"
_CONTROL_RE = re.compile(_JOINED_CONTROL)
ROLE_CODE = {"system": "s", "user": "u", "assistant": "a"}  # the roles `fast_clean` clears
_CLEAN_ORDER = re.compile(r"s?(?:ua)+")
SEP = "\x1f"
PathFn = Callable[[int, str], str]


def dup_text(roles: Sequence[str], contents: Sequence[str]) -> str:
    """The text duplicate detection hashes: roles and contents, unambiguously joined."""
    return "".join(r[0] for r in roles) + SEP + SEP.join(contents)


def message_dup_text(messages: Sequence[Message]) -> str:
    """`dup_text` of validated messages; an assistant turn's calls count as part of its text
    (name and arguments, the same whether the arguments are an object or its JSON text), so two
    rows that differ only in what they call are not duplicates."""
    def arguments(value: Any) -> Any:  # the object either form holds (a hashed row's arguments are valid)
        parsed, _ = arguments_of(value)
        return value if parsed is None else parsed

    contents = [comparable_text(m.content) if not m.tool_calls else
                _with_calls(comparable_text(m.content),
                            [[c.function.name, arguments(c.function.arguments)] for c in m.tool_calls])
                for m in messages]
    for k, m in enumerate(messages):  # reasoning in a field counts too (U+001D: a control character)
        extra = m.model_extra
        if extra and m.role == "assistant" and any(name in extra for name in REASONING_FIELDS) \
                and (found := reasoning_of({"role": m.role, **extra})).source is not None:
            contents[k] = f"{found.text}\x1d{contents[k]}"
    return dup_text([m.role for m in messages], contents)


def _with_calls(content: str, calls: list[list[Any]]) -> str:
    """A call turn's text for `dup_text`: its content, then its [name, arguments] pairs as JSON.
    U+001E cannot occur in a valid row's content (a control character), so the join is unambiguous."""
    try:
        return content + "\x1e" + orjson.dumps(calls, option=orjson.OPT_SORT_KEYS).decode()
    except TypeError:  # beyond what orjson writes (an integer over 64 bits): the same text, whichever path
        return content + "\x1e" + json.dumps(calls, sort_keys=True, ensure_ascii=False)


def suspect_tokens(rules: TemplateRules | None) -> tuple[str, ...]:
    """Strings that send a row past every fast path to the precise checks: the template's special
    tokens (reported there) and the think tags (whose reasoning checks only run there)."""
    return (*(rules.special_tokens if rules is not None else ()), *THINK_TAGS)


def fast_clean(messages: Any, rules: TemplateRules | None) -> str | None:
    """`dup_text` of the row when its structure is certainly clean, else None (don't know). A
    content of text parts counts as the text they join to, where the template takes them.

    Content scans (control characters, special tokens) are left to the caller, which runs them
    once per chunk in Rust over the returned texts (`suspects`).
    """
    if not strings_cleared(rules):
        return None
    try:
        if type(messages) is not list or set(map(len, messages)) != {2}:
            return None
        sig = "".join([ROLE_CODE[m["role"]] for m in messages])
        contents = [m["content"] for m in messages]
        if any(type(c) is list for c in contents):
            allowed = part_roles(rules)
            contents = [c if type(c) is not list else joined_text(c) if m["role"] in allowed else None
                        for m, c in zip(messages, contents)]
        text = SEP.join(contents)
    except (KeyError, TypeError):
        return None
    if not _CLEAN_ORDER.fullmatch(sig) or not all(map(str.strip, contents)) or text.count(SEP) != len(sig) - 1:
        return None
    if rules is not None and ((sig[0] == "s" and "system" not in rules.roles) or rules.flags_plain_rows):
        return None
    return sig + SEP + text


_CALL_ROW_CODE = {"system": "s", "user": "u", "assistant": "a", "tool": "t"}  # "c": an assistant turn that calls
_CLEAN_CALL_ORDER = re.compile(r"s?(?:u(?:ct+)*a)+")
_PRECISE_KEYS = (*REASONING_FIELDS, "train")  # message fields only the precise path checks


def fast_clean_tools(messages: Any, fields: dict[str, Any], rules: TemplateRules | None) -> str | None:
    """`fast_clean` of a row that declares tools (`fields`: the row): its `dup_text` when the row is
    certainly clean, content scans included, else None (don't know).

    Clears turns in the shape `[system] (user (call results...)* answer)+` whose every call names a
    declared tool with arguments valid against its schema, in a form `rules` render, and whose results
    answer the calls in order (by id, or without one); anything else goes to the precise path.
    """
    tools_value = fields.get("tools")
    if type(messages) is not list or not messages or tools_value is None or not strings_cleared(rules):
        return None
    tools, declared = declared_tools(tools_value)
    support = rules.tools if rules is not None else None
    if declared or not tools or (support is not None and not support.tools):
        return None
    one_call = fields.get("parallel_tool_calls") is False or (support is not None and not support.parallel_calls)
    sig: list[str] = []
    roles: list[str] = []
    texts: list[str] = []  # what the content scans read
    contents: list[str] = []  # what duplicates compare
    pending: list[tuple[Any, str]] = []
    ids: set[str] = set()
    try:
        for m in messages:
            role = m["role"]
            code = _CALL_ROW_CODE[role]
            if len(m) == 2:  # role and content only, as most turns are
                content, calls, name, answers = m["content"], None, None, None
            elif any(key in m for key in _PRECISE_KEYS):
                return None
            else:
                content, calls, name, answers = m.get("content"), m.get("tool_calls"), m.get("name"), \
                    m.get("tool_call_id")
                if (name is not None and type(name) is not str) or (answers is not None and type(answers) is not str):
                    return None
            if calls is not None:
                if code != "a" or pending or type(calls) is not list or not calls or (one_call and len(calls) > 1) \
                        or (support is not None and not support.tool_calls):
                    return None
                if content is None:
                    content = ""
                elif type(content) is not str or (content and not content.strip()):
                    return None
                pairs = []
                for call in calls:
                    if not (called := _clean_call(call, tools, ids, support)):
                        return None
                    pending.append(called[0])
                    pairs.append(called[1])
                code = "c"
                contents.append(_with_calls(content, pairs))
            else:
                if type(content) is not str or not content.strip():
                    return None
                if code == "t":
                    if not pending:
                        return None
                    call_id, called_name = pending.pop(0)
                    if (answers is not None and answers != call_id) or (name is not None and name != called_name):
                        return None
                elif pending:
                    return None
                contents.append(content)
            sig.append(code)
            roles.append(role)
            texts.append(content)
    except (KeyError, TypeError, AttributeError):  # not a dict, a missing key, an unhashable role
        return None
    if not _CLEAN_CALL_ORDER.fullmatch("".join(sig)) or any(map(has_control_char, texts)):  # (bidi controls too)
        return None
    tokens = suspect_tokens(rules)
    if (rules is not None and not set(roles) <= set(rules.roles)) or any(t in text for text in texts for t in tokens):
        return None
    if rules is not None and rules.flags_plain_rows:
        return None
    return dup_text(roles, contents)


def _clean_call(call: Any, tools: dict[str, Any], ids: set[str],
                support: Any) -> tuple[tuple[Any, str], list[Any]] | None:
    """((id, name), [name, arguments]) of a call `fast_clean_tools` clears, else None; notes its id."""
    function = call["function"]
    call_id = call.get("id")
    if type(function) is not dict or call.get("type", "function") != "function" or type(function["name"]) is not str:
        return None
    if call_id is not None and (type(call_id) is not str or call_id in ids):
        return None
    raw = function.get("arguments", {})
    if type(raw) is dict and not all(type(key) is str for key in raw):
        return None
    form = "string" if type(raw) is str else "object"
    if support is not None and support.arguments and form not in support.arguments:
        return None
    arguments, why = arguments_of(raw) if type(raw) in (str, dict) else (None, "wrong type")
    tool = tools.get(function["name"])
    if why or tool is None or (tool.check is not None and not tool.check.is_valid(arguments)):
        return None
    if call_id is not None:
        ids.add(call_id)
    return (call_id, function["name"]), [function["name"], arguments]


def suspects(texts: list[str], rules: TemplateRules | None, *, polars: bool = True) -> list[bool]:
    """Per text: may it hold a control character or a special token? Polars scans the whole
    list in Rust threads (two to three times as fast); without `polars`, Python's `re` does."""
    tokens = list(suspect_tokens(rules))
    if not polars:
        control = _CONTROL_RE.search
        return [control(text) is not None or any(token in text for token in tokens) for text in texts]
    import polars as pl

    series = pl.Series(texts, dtype=pl.String)
    flags = series.str.contains(_JOINED_CONTROL)
    if tokens:
        flags = flags | series.str.contains_any(tokens)
    return pl.Series(flags).to_list()



def _role_issue(value: Any) -> tuple[str, str] | None:
    if isinstance(value, str):
        if value in ROLES:
            return None
        if value.lower() in ROLES:
            return "role-wrong-case", f"role {value!r} should be {value.lower()!r} (--fix lowercases it)"
        alias = ROLE_ALIASES.get(value.lower())
        hint = f"; --fix maps it to {alias!r}" if alias else ""
        return "unknown-role", f"unknown role {value!r}; expected one of {', '.join(ROLES)}{hint}"
    return "wrong-type", f"role must be a string, got {json_type(value)}"


def with_call_content(raw: dict[str, Any]) -> dict[str, Any]:
    """An assistant tool call may carry no text: its null or missing content reads as ""."""
    if raw.get("tool_calls") and raw.get("content") is None:
        return {**raw, "content": ""}
    return raw


def _message(raw: Any, i: int, row: int, path: PathFn, issues: list[Issue]) -> Message | None:
    if not isinstance(raw, dict):
        issues.append(Issue.make(row, path(i, ""), "wrong-type", f"expected a message object, got {json_type(raw)}"))
        return None
    before = len(issues)
    if "role" not in raw:
        issues.append(Issue.make(row, path(i, "role"), "missing-field", "message has no 'role'"))
    elif problem := _role_issue(raw["role"]):
        issues.append(Issue.make(row, path(i, "role"), *problem))
    raw = with_call_content(raw)
    content = raw.get("content")
    if "content" not in raw:
        issues.append(Issue.make(row, path(i, "content"), "missing-field", "message has no 'content'"))
    elif content is None:
        issues.append(Issue.make(row, path(i, "content"), "null-content", "content is null"))
    elif isinstance(content, list):
        issues += [Issue.make(row, f"{path(i, 'content')}{where}", code, message)
                   for where, code, message in part_issues(content)]
    elif not isinstance(content, str):
        issues.append(Issue.make(row, path(i, "content"), "non-string-content",
                                 f"content must be a string or a list of parts, got {json_type(content)}"))
    if len(issues) > before:
        return None
    try:
        return Message.model_validate(raw)
    except ValidationError as exc:
        for err in exc.errors(include_url=False):
            field = ".".join(str(p) for p in err["loc"])
            issues.append(Issue.make(row, path(i, field), "wrong-type", f"{err['msg']} (got {json_type(err['input'])})"))
        return None


def _text_runs(m: Message, i: int, path: PathFn) -> list[tuple[str, str]]:
    """(path, text) of each text a message holds: its content, or each of its text parts."""
    if isinstance(m.content, list):
        where = path(i, "content")
        return [(f"{where}[{j}].text", p.text) for j, p in enumerate(m.content) if isinstance(p, TextPart)]
    return [(path(i, "content"), m.content or "")]


def _content_issues(messages: list[Message], row: int, path: PathFn, rules: TemplateRules | None) -> list[Issue]:
    issues = []
    if rules is not None and (refused := parts_issue(messages, row, path, rules)) is not None:
        issues.append(refused)
    for i, m in enumerate(messages):
        # most messages have no issue: the path is built only for one that has
        if isinstance(m.content, list):
            if not text_of(m.content).strip() and not any(p.type != "text" for p in m.content):
                code = "whitespace-content" if text_of(m.content) else "empty-content"
                issues.append(Issue.make(row, path(i, "content"), code, f"{m.role} content has no text and no "
                                                                         "image"))
        elif m.content == "":
            if not (m.role == "assistant" and (m.tool_calls or _trains_reasoning_field(m, rules))):
                issues.append(Issue.make(row, path(i, "content"), "empty-content", f"{m.role} content is empty"))
        elif not m.content.strip():
            issues.append(Issue.make(row, path(i, "content"), "whitespace-content",
                                     f"{m.role} content is only whitespace"))
        for where, text in _text_runs(m, i, path):
            issues += _text_issues(text, where, row, rules)
        if rules is not None:
            if m.role not in rules.roles:
                issues.append(Issue.make(row, path(i, "role"), "role-not-supported",
                                         f"template {rules.name} does not accept role {m.role!r}"))
    return issues


def _text_issues(text: str, where: str, row: int, rules: TemplateRules | None) -> list[Issue]:
    """Control characters, bidirectional controls and the template's special tokens in one text."""
    issues = []
    if has_control_char(text):  # a control character or a bidirectional control: which?
        if bad := CONTROL.search(text):
            issues.append(Issue.make(row, where, "control-character",
                                     f"control character U+{ord(bad.group()):04X} at offset {bad.start()}"))
        if bidi := BIDI.search(text):
            issues.append(Issue.make(row, where, "bidi-control",
                                     f"bidirectional control U+{ord(bidi.group()):04X} at offset {bidi.start()}: "
                                     "it reorders how the text is displayed"))
    if rules is not None:
        found = sorted((at, token) for token in rules.special_tokens if (at := text.find(token)) >= 0)
        issues += [Issue.make(row, where, "special-token-in-content",
                              f"{token!r} of template {rules.name} at offset {at}") for at, token in found]
    return issues


def _trains_reasoning_field(message: Message, rules: TemplateRules | None) -> bool:
    """Whether the template of `rules` prints (so trains) the reasoning field this reply holds, so
    that a reply with an empty answer still has its reasoning to learn."""
    support = rules.reasoning if rules is not None else None
    if support is None or support.field is None:
        return False
    found = reasoning_of({"role": message.role, **(message.model_extra or {})})
    return found.source == support.field and bool(found.text and found.text.strip())


def _structure_issues(messages: list[Message], row: int, path: PathFn, root: str,
                      rules: TemplateRules | None, shape: str = "conversation",
                      fields: dict[str, Any] | None = None) -> list[Issue]:
    issues = []
    roles = [m.role for m in messages]
    if "assistant" not in roles and shape != "prompt":
        issues.append(Issue.make(row, root, "no-assistant-turn", "no assistant message: nothing to train on"))
    for i, role in enumerate(roles[1:], start=1):
        if role == "system":
            issues.append(Issue.make(row, path(i, "role"), "system-not-first", f"system message at position {i}"))
    if roles[-1] == "user" and shape != "prompt":
        issues.append(Issue.make(row, path(len(roles) - 1, "role"), "trailing-user-turn",
                                 "the conversation ends with a user turn"))
    if shape == "prompt" and roles[-1] not in ("user", "tool"):
        issues.append(Issue.make(row, path(len(roles) - 1, "role"), "prompt-not-open",
                                 f"the prompt ends with a{'n' if roles[-1] == 'assistant' else ''} {roles[-1]} turn: "
                                 "a prompt to generate from ends with the user's turn (or a tool's result)"))
    alternating = "error" if rules is not None and rules.alternating else "warning"
    turns = [(i, m) for i, m in enumerate(messages) if m.role in ("user", "assistant")]
    if turns and turns[0][1].role == "assistant" and shape != "completion":
        issues.append(Issue.make(row, path(turns[0][0], "role"), "non-alternating",
                                 "the first turn is an assistant turn, not a user turn", severity_=alternating))
    for (_, a), (j, b) in zip(turns, turns[1:]):
        if a.role == b.role and not a.tool_calls:
            issues.append(Issue.make(row, path(j, "role"), "non-alternating",
                                     f"two {b.role} turns in a row", severity_=alternating))
    support, name = (rules.tools, rules.name) if rules is not None else (None, "")
    fields = fields or {}
    issues += [Issue.make(row, where, code, message)
               for where, code, message in call_issues(messages, fields.get("tools"), path, root, support, name,
                                                       parallel=fields.get("parallel_tool_calls"))]
    return issues


def check_messages(raw_messages: list[Any], row: int, path: PathFn, root: str, rules: TemplateRules | None,
                   shape: str = "conversation", fields: dict[str, Any] | None = None,
                   images: ImageChecks | None = None) -> tuple[list[Message] | None, list[Issue]]:
    """Validate raw message dicts precisely: (the messages, or None when unusable; issues).
    `shape`: what the format's rows hold by design (`Format.shape`): a conversation; a
    `completion` (one assistant message, no prompt); a `prompt` (no reply: it ends open);
    `fields`: the row's other fields: its calls are checked against its `tools` and
    `parallel_tool_calls` (validation/checks/tools.py), its `images` against the placeholders;
    `images`: reads the images the row names (validation/checks/images.py); without it, only how
    the row writes them is checked (placeholders against its `images`)."""
    issues: list[Issue] = []
    if not raw_messages:
        return None, [Issue.make(row, root, "no-messages", "the conversation has no messages")]
    parsed = [_message(m, i, row, path, issues) for i, m in enumerate(raw_messages)]
    if issues:
        return None, issues
    messages = [m for m in parsed if m is not None]
    issues = _content_issues(messages, row, path, rules) + _structure_issues(messages, row, path, root, rules,
                                                                             shape, fields)
    found = reasoning_issues(raw_messages, path) + [
        (path(i, "train"), "wrong-type", f"train must be true or false, got {json_type(m['train'])}")
        for i, m in enumerate(raw_messages) if "train" in m and not isinstance(m["train"], bool)]
    if rules is not None and rules.reasoning is not None and not any(f[1] in REASONING_ERRORS for f in found):
        found += template_reasoning_issues(raw_messages, rules.reasoning, rules.name, root)
    found += _image_issues(raw_messages, fields or {}, path, images)
    return messages, issues + [Issue.make(row, where, code, message) for where, code, message in found]


def _image_issues(raw_messages: list[Any], fields: dict[str, Any], path: PathFn,
                  images: ImageChecks | None) -> list[tuple[str, str, str]]:
    """How the row writes its images, then each image (validation/checks/images.py)."""
    if "images" not in fields and not any(isinstance(m.get("content"), list) for m in raw_messages):
        return []
    refs, found = row_images(raw_messages, fields, path)
    return found if images is None else found + [problem for ref in refs for problem in images.check(ref)]

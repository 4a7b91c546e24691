"""`--fix`: mechanical repairs, each listed per row; nothing changes without the flag.

- `role-mapped`: a role alias or wrong-case role becomes its role (`Human`, `gpt`, `bot`, `model`);
- `system-folded`: for a template without a system role, the system prompt goes in front of the
  first user turn (separated by a blank line);
- `turns-merged`: consecutive user (or assistant) turns become one, joined by a blank line;
- `whitespace-stripped`: edge whitespace is removed where the template trims content anyway, so
  the data says what the model sees;
- `arguments-converted`: tool-call arguments are rewritten in the form the template renders as
  JSON (an object from its JSON text, or the JSON text of an object);
- `reasoning-inlined`: reasoning kept in a field the template does not print (`reasoning_content`
  for deepseek-r1-distill or chatml) moves into the content as a `<think>` block, which it trains;
- `parts-joined`: for a template that takes no content parts, a content of text parts only becomes
  one string (validation/content.py `text_of`); `parts-wrapped`: for one that reads parts only, a
  string content becomes one text part.

Fixes apply to the row's own structure (`messages` and `sharegpt` message lists; plain text
fields of `qa`, `alpaca`, `prompt-completion` and `text` for stripping); a fixed row keeps every
other field.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from validation.readers.formats import SHAREGPT_NAMES, SHAREGPT_ROLES, Format
from validation.models import ROLE_ALIASES, ROLES
from validation.checks.reasoning import CLOSE, inline, reasoning_of
from validation.checks.rules import TemplateRules
from validation.checks.tools import arguments_of
from validation.checks.parts import part_issues
from validation.content import text_of

SEPARATOR = "\n\n"

Change = tuple[str, str, str]  # (path, code, message): one repair, before it is a report's `Fix`
STRIPPED = "edge whitespace removed (the template trims it)"


class Fixer:
    """Applies the fixes a format and template allow to one row at a time."""

    def __init__(self, fmt: Format, rules: TemplateRules | None = None) -> None:
        self.fmt = fmt
        self.keys = fmt.raw  # where a list-of-messages format keeps its turns; None for the others
        self.sharegpt = fmt.name == "sharegpt"
        self.fold_system = rules is not None and "system" not in rules.roles
        self.strip = rules is not None and rules.trims_content
        support = rules.tools if rules is not None else None
        # the one form of arguments the template takes, when it takes only one
        self.arguments = support.arguments[0] if support and support.tool_calls and len(support.arguments) == 1 \
            else None
        self.reasoning = rules.reasoning if rules is not None else None
        self.parts = rules.parts if rules is not None else None  # text parts of a role it takes none in are joined

    def fix(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
        """(the fixed row, what changed); the row itself when nothing did."""
        if self.fmt.preference:  # no mechanical repair of pairs yet: a transcript's markers are not whitespace
            return row, []
        if self.keys is None:
            return self._fix_fields(row)
        messages = row.get(self.keys.list_key)
        if not isinstance(messages, list) or not all(isinstance(m, dict) for m in messages):
            return row, []
        turns = [(i, copy.copy(m)) for i, m in enumerate(messages)]
        fixes = self._roles(turns)
        if self.parts is not None:
            fixes += self._join_parts(turns)
        if self.fold_system:
            fixes += self._fold_system(turns)
        fixes += self._merge(turns)
        if self.strip:
            fixes += self._strip(turns)
        if self.arguments:
            fixes += self._arguments(turns)
        if self.reasoning is not None:
            fixes += self._inline_reasoning(turns)
        if not fixes:
            return row, []
        return {**row, self.keys.list_key: [m for _, m in turns]}, fixes

    def _path(self, i: int, field: str) -> str:
        return f"{self.keys.list_key}[{i}].{field}"  # type: ignore[union-attr]

    def _role(self, message: dict[str, Any]) -> str | None:
        value = message.get(self.keys.role_key)  # type: ignore[union-attr]
        if not isinstance(value, str):
            return None
        if self.sharegpt:  # type: ignore[union-attr]
            return SHAREGPT_ROLES.get(value) or SHAREGPT_ROLES.get(value.lower()) or ROLE_ALIASES.get(value.lower())
        return value if value in ROLES else (value.lower() if value.lower() in ROLES else ROLE_ALIASES.get(value.lower()))

    def _written(self, role: str) -> str:
        return SHAREGPT_NAMES[role] if self.sharegpt else role  # type: ignore[union-attr]

    def _roles(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        key = self.keys.role_key  # type: ignore[union-attr]
        for i, message in turns:
            old, role = message.get(key), self._role(message)
            already = SHAREGPT_ROLES.get(old) == role if self.sharegpt else old == role  # type: ignore[union-attr]
            if role is not None and not already:
                message[key] = self._written(role)
                fixes.append((self._path(i, key), "role-mapped", f"{old!r} → {message[key]!r}"))
        return fixes

    def _join_parts(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        content = self.keys.content_key  # type: ignore[union-attr]
        for i, message in turns:
            parts, role = message.get(content), self._role(message) or ""
            if isinstance(parts, str) and parts and self.parts.needs_parts(role):  # type: ignore[union-attr]
                message[content] = [{"type": "text", "text": parts}]
                fixes.append((self._path(i, content), "parts-wrapped", "the string became one text part (the "
                              "template reads content parts only)"))
                continue
            text_only = isinstance(parts, list) and parts and not part_issues(parts) \
                and all(p["type"] == "text" for p in parts)
            if text_only and len(parts) > 1 and role in self.parts.single:  # type: ignore[union-attr]
                message[content] = [{"type": "text", "text": text_of(parts)}]
                fixes.append((self._path(i, content), "parts-joined", f"{len(parts)} text parts joined into one "
                              "(the template writes the first text part only here)"))
                continue
            if text_only and not self.parts.takes(role) and role not in self.parts.single:  # type: ignore[union-attr]
                message[content] = text_of(parts)
                fixes.append((self._path(i, content), "parts-joined",
                              f"{len(parts)} text part{'s' if len(parts) != 1 else ''} joined into one string (the "
                              "template takes no content parts here)"))
        return fixes

    def _fold_system(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        content = self.keys.content_key  # type: ignore[union-attr]
        if not turns or self._role(turns[0][1]) != "system":
            return []
        first_user = next((t for t in turns[1:] if self._role(t[1]) == "user"), None)
        system = turns[0][1].get(content)
        if first_user is None or not isinstance(system, str) or not isinstance(first_user[1].get(content), str):
            return []
        first_user[1][content] = system + SEPARATOR + first_user[1][content]
        del turns[0]
        return [(self._path(0, content), "system-folded",
                 f"the template has no system role: prepended to {self._path(first_user[0], content)}")]

    def _merge(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        content = self.keys.content_key  # type: ignore[union-attr]
        k = 1
        while k < len(turns):
            (i, a), (j, b) = turns[k - 1], turns[k]
            role = self._role(a)
            plain = all(set(m) <= {self.keys.role_key, content} for m in (a, b))  # type: ignore[union-attr]
            if role in ("user", "assistant") and role == self._role(b) and plain and \
                    isinstance(a.get(content), str) and isinstance(b.get(content), str):
                a[content] = a[content] + SEPARATOR + b[content]
                del turns[k]
                fixes.append((self._path(j, content), "turns-merged", f"a second {role} turn in a row: appended to "
                              f"{self._path(i, content)}"))
            else:
                k += 1
        return fixes

    def _strip(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        content = self.keys.content_key  # type: ignore[union-attr]
        for i, message in turns:
            if (stripped := _stripped(message.get(content))) is not None:
                message[content] = stripped
                fixes.append((self._path(i, content), "whitespace-stripped", STRIPPED))
        return fixes

    def _arguments(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        for i, message in turns:
            calls = message.get("tool_calls")
            if not isinstance(calls, list):
                continue
            for j, call in enumerate(calls):
                function = call.get("function") if isinstance(call, dict) else None
                if not isinstance(function, dict) or (converted := _converted(function.get("arguments"),
                                                                              self.arguments)) is None:
                    continue
                calls = message["tool_calls"] = [*calls[:j], {**call, "function": {**function, "arguments": converted}},
                                                 *calls[j + 1:]]
                fixes.append((self._path(i, f"tool_calls[{j}].function.arguments"), "arguments-converted",
                              "the JSON text became the object it holds" if self.arguments == "object" else
                              "the object became its JSON text"))
        return fixes

    def _inline_reasoning(self, turns: list[tuple[int, dict[str, Any]]]) -> list[Change]:
        fixes = []
        for k, (i, message) in enumerate(turns):
            found = reasoning_of(message)
            # none, printed already, or held twice (reasoning-twice: the user decides)
            printed = self.reasoning.field  # type: ignore[union-attr]
            if found.source in (None, "inline", printed) or CLOSE in found.answer:
                continue
            turns[k] = (i, inline(message))
            fixes.append((self._path(i, "content"), "reasoning-inlined",
                          f"{found.source} moved into the content as a think block (the template does not print it)"))
        return fixes

    def _fix_fields(self, row: dict[str, Any]) -> tuple[dict[str, Any], list[Change]]:
        if not self.strip:
            return row, []
        fixed, fixes = row, []
        for name in sorted(self.fmt.keys | self.fmt.extra_keys):
            if (stripped := _stripped(row.get(name))) is not None:
                fixed = {**fixed, name: stripped}
                fixes.append((name, "whitespace-stripped", STRIPPED))
        return fixed, fixes


def _converted(arguments: Any, form: str) -> Any:
    """`arguments` in `form` ("object" or "string"), or None when they are in it already or cannot be."""
    if form == "object" and isinstance(arguments, str):
        return arguments_of(arguments)[0]  # None when the text holds no object: invalid-arguments says so
    if form == "string" and isinstance(arguments, dict):
        return json.dumps(arguments, ensure_ascii=False)
    return None


def _stripped(text: Any) -> str | None:
    """`text` without edge whitespace, or None when that changes nothing (or would leave nothing)."""
    if not isinstance(text, str) or not text.strip() or text == text.strip():
        return None
    return text.strip()

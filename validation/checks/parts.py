"""Content parts in the row checks (layouts: validation/content.py): which parts are well formed,
which a template renders in which role, and the text the fast paths clear text parts as."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from validation.checks.rules import TemplateRules
from validation.content import IMAGE_FIELDS, PART_TYPES
from validation.models import ROLES, Message
from validation.readers.decode import json_type
from validation.report import Issue

PathFn = Callable[[int, str], str]


def part_roles(rules: TemplateRules | None) -> tuple[str, ...]:
    """The roles whose content the fast paths may clear as text parts: every role without a template,
    those a template renders parts in (none when its support is not known)."""
    if rules is None:
        return ROLES
    return rules.parts.roles if rules.parts is not None else ()


def strings_cleared(rules: TemplateRules | None) -> bool:
    """Whether the fast paths may clear string contents: not under a template that reads content
    parts only (SmolVLM's, Idefics3's), where a string content is an error they leave to the precise
    path (`parts-required`)."""
    return rules is None or rules.parts is None or not rules.parts.parts_only


def joined_text(parts: Any) -> str | None:
    """The text of a content of text parts only, each exactly {"type": "text", "text": str}; else None."""
    try:
        if not parts or not all(len(p) == 2 and p["type"] == "text" and type(p["text"]) is str for p in parts):
            return None
    except (KeyError, TypeError):
        return None
    return "".join([p["text"] for p in parts])


def part_issues(content: list[Any]) -> list[tuple[str, str, str]]:
    """(path after `content`, code, message) of each part of a content list that is not a text or
    image part as validation/content.py reads them; [] when all are."""
    found = []
    for j, part in enumerate(content):
        at = f"[{j}]"
        if not isinstance(part, dict):
            found.append((at, "invalid-content-part", f"a content part must be an object, got {json_type(part)}"))
        elif "type" not in part:
            found.append((at, "missing-field", "content part has no 'type' (text, image_url or image)"))
        elif part["type"] not in PART_TYPES:
            found.append((f"{at}.type", "invalid-content-part",
                          f"content part type {part['type']!r} is not one instructkit reads: "
                          f"{', '.join(PART_TYPES)}"))
        elif part["type"] == "text" and not isinstance(part.get("text"), str):
            found.append((f"{at}.text", "missing-field" if "text" not in part else "wrong-type",
                          "a text part has no 'text'" if "text" not in part else
                          f"text must be a string, got {json_type(part['text'])}"))
        elif part["type"] == "image_url" and not (isinstance(part.get("image_url"), dict)
                                                  and isinstance(part["image_url"].get("url"), str)):
            found.append((f"{at}.image_url", "invalid-content-part",
                          'an image_url part holds {"url": "..."}, got '
                          f"{json_type(part.get('image_url'))}"))
        elif part["type"] == "image" and (bad := next((k for k in IMAGE_FIELDS if part.get(k) is not None
                                                       and not isinstance(part[k], str)), None)):
            found.append((f"{at}.{bad}", "wrong-type", f"{bad} must be a string, got {json_type(part[bad])}"))
    return found


def parts_issue(messages: list[Message], row: int, path: PathFn, rules: TemplateRules) -> Issue | None:
    """The first message whose content the template cannot render (none: None): text parts in a
    role where it takes none, an image where it writes nothing for one, a string where it reads
    parts only."""
    support = rules.parts
    if support is None:
        return None
    for i, m in enumerate(messages):
        if not isinstance(m.content, list):
            if m.content and support.needs_parts(m.role):
                return Issue.make(row, path(i, "content"), "parts-required",
                                  f"template {rules.name} reads content parts only: this {m.role} message's string "
                                  "would be dropped; --fix wraps it as one text part")
            continue
        kind = next((p.type for p in m.content if p.type != "text"), None)
        if m.role in support.single and len(m.content) == 1 and kind is None:
            continue  # (the one text part it writes)
        if m.role in support.single:
            return Issue.make(row, path(i, "content"), "parts-not-supported",
                              f"template {rules.name} writes the first text part only of {_a(m.role)} message: "
                              "the rest would be dropped; --fix joins text-only parts into one part")
        if not support.takes(m.role):
            why = f"cannot render content parts in {_a(m.role)} message ({support.why(m.role)})"
            fix = "; this message holds an image, so name a template that takes images" if kind else \
                "; --fix joins text-only parts into one string"
            return Issue.make(row, path(i, "content"), "parts-not-supported", f"template {rules.name} {why}{fix}")
        if kind is not None and (m.role != "user" or (kind := next(
                (p.type for p in m.content if p.type != "text" and p.type not in support.images), None))):
            where = "outside a user turn" if m.role != "user" else f"for an {kind} part"
            takes = f" (it writes {' and '.join(support.images)} parts in user turns)" if support.images else \
                ": it is a text model's template"
            return Issue.make(row, path(i, "content"), "parts-not-supported",
                              f"template {rules.name} is not known to write an image {where}{takes}")
    return None


def _a(role: str) -> str:
    """The role with its article: "a user", "an assistant"."""
    return f"{'an' if role[0] in 'aeiou' else 'a'} {role}"

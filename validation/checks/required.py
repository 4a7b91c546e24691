"""Columns a row must carry beside its messages: the reward columns of GRPO-style data (a reference
answer, a difficulty, test cases), named with their JSON type. TRL hands every extra column of a
prompt-only row to the reward functions by name, so a row without one fails in the middle of a run.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from validation.errors import InputError
from validation.readers.decode import json_type

TYPES = ("string", "number", "integer", "boolean", "array", "object", "any")


def parse_required(text: str) -> dict[str, str]:
    """`NAME[:TYPE],...` as {name: type} (type `any` when left out).

    Example:
        >>> parse_required("answer:string, level:integer,tests")
        {'answer': 'string', 'level': 'integer', 'tests': 'any'}
    """
    found: dict[str, str] = {}
    for item in (part.strip() for part in text.split(",")):
        if not item:
            continue
        name, _, kind = item.partition(":")
        name, kind = name.strip(), kind.strip() or "any"
        if not name or kind not in TYPES:
            raise InputError(f"--reward-columns: {item!r} is not NAME or NAME:TYPE (TYPE one of {', '.join(TYPES)})")
        found[name] = kind
    if not found:
        raise InputError("--reward-columns: no column named")
    return found


def _is(value: Any, kind: str) -> bool:
    if kind == "any":
        return True
    if kind == "string":
        return isinstance(value, str)
    if kind == "boolean":
        return isinstance(value, bool)
    if kind == "array":
        return isinstance(value, list)
    if kind == "object":
        return isinstance(value, dict)
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        return False
    return kind == "number" or value == int(value)  # (an integer: 3 or 3.0, as JSON Schema counts)


def required_issues(row: Any, required: dict[str, str]) -> list[tuple[str, str, str]]:
    """(path, code, message) of each required column the row lacks or holds with another type.

    Example:
        >>> required_issues({"answer": 4, "level": 2.0}, {"answer": "string", "level": "integer", "id": "any"})
        [('answer', 'wrong-type', 'answer must be a string (a reward column), got number'), \
('id', 'missing-field', "field 'id' is missing (a reward column)")]
    """
    if not isinstance(row, dict):
        return []
    issues = []
    for name, kind in required.items():
        if name not in row:
            issues.append((name, "missing-field", f"field {name!r} is missing (a reward column)"))
        elif not _is(row[name], kind):
            value = row[name]
            got = "number" if isinstance(value, (int, float, Decimal)) and not isinstance(value, bool) \
                else json_type(value)
            issues.append((name, "wrong-type", f"{name} must be a{'n' if kind[0] in 'aeiou' else ''} {kind} "
                                               f"(a reward column), got {got}"))
    return issues

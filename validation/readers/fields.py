"""The row-level pieces every format shares: what a raw row is, where a list-of-messages format
keeps its turns (for the C readers), and a row of a target format built without overwriting the
metadata it carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from validation.errors import CannotConvert
Raw = dict[str, Any]


@dataclass(frozen=True)
class RawShape:
    """Where a list-of-messages format keeps its turns, for the C readers (validate's fast path,
    stats' reader): the list field, the role and content fields of each turn, and the source role
    names they read, each to its canonical role; rows with other roles are left to Python."""

    list_key: str
    role_key: str
    content_key: str
    roles: dict[str, str] | None = None  # None: every role is spelled as it is


def merge_fields(metadata: dict[str, Any], fields: Raw) -> Raw:
    """A row of the target format: its `fields` after the metadata kept from the source row;
    CannotConvert when a metadata field has the name of one of them (it would be overwritten)."""
    clash = sorted(set(metadata) & set(fields))
    if clash:
        raise CannotConvert(f"metadata field(s) {', '.join(clash)} collide with the target format's fields")
    return {**metadata, **fields}

"""The options the dataset passes share (validate, stats, audit, convert), each checked once and
turned into the object the checks use: the template's rules, `max_length`, the tokenizer, the
response schema. A name given here is the caller's edge: the CLI and scripts pass names, the
passes inside receive objects."""

from __future__ import annotations

import os
from typing import Any

from validation.checks.rules import TemplateRules, get_rules, get_tokenizer
from validation.checks.tools import ResponseSchema
from validation.errors import InputError


def resolve_rules(template: str | TemplateRules | None) -> TemplateRules | None:
    """Template rules by name (registry or built-in ChatML); InputError for unknown names."""
    if template is None or isinstance(template, TemplateRules):
        return template
    return get_rules(template)


def check_max_length(max_length: int | None) -> int | None:
    """`max_length` as given when it is None or a positive integer; InputError otherwise."""
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1):
        raise InputError(f"max_length must be a positive whole number, not {max_length!r}")
    return max_length


def load_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer object as it is; a name as the CLI's `--tokenizer` reads it (`get_tokenizer`:
    a tokenizer.json or a folder with one, else a hub id, a GGUF file or the embedded SmolLM2)."""
    if tokenizer is None or not isinstance(tokenizer, (str, os.PathLike)):
        return tokenizer
    return get_tokenizer(os.fspath(tokenizer))


def response_schema_of(schema: str | os.PathLike[str] | dict[str, Any] | None,
                       scope: str = "last") -> ResponseSchema | None:
    """The `ResponseSchema` of a schema or a schema file (None for None); InputError when unusable."""
    if scope not in ("last", "all"):
        raise InputError(f"response_scope must be 'last' or 'all', not {scope!r}")
    if schema is None:
        return None
    if isinstance(schema, (str, os.PathLike)):
        return ResponseSchema.load(os.fspath(schema), scope)  # type: ignore[arg-type]
    return ResponseSchema(schema, scope)  # type: ignore[arg-type]

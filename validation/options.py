"""The options the dataset passes share (validate, stats, audit, convert), each checked once and
turned into the object the checks use: the template's rules, `max_length`, the tokenizer, the
response schema. Templates and tokenizers come in as objects: a name is resolved where it is
written (the CLI, the training config, a script calling `templating.get_template`), never here."""

from __future__ import annotations

import os
from typing import Any

from validation.checks.rules import HasRules, TemplateRules
from validation.checks.tools import ResponseSchema
from validation.errors import InputError
def check_max_length(max_length: int | None) -> int | None:
    """`max_length` as given when it is None or a positive integer; InputError otherwise."""
    if max_length is not None and (isinstance(max_length, bool) or not isinstance(max_length, int) or max_length < 1):
        raise InputError(f"max_length must be a positive whole number, not {max_length!r}")
    return max_length


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


def resolve_rules(template: TemplateRules | HasRules | None) -> TemplateRules | None:
    """The rules of `template`: `TemplateRules` as they are, a template object's `.rules`
    (`templating.get_template(name)`); InputError for a name, which is resolved by the caller."""
    if template is None or isinstance(template, TemplateRules):
        return template
    rules = getattr(template, "rules", None)
    if isinstance(rules, TemplateRules):
        return rules
    if isinstance(template, str):
        raise InputError(f"template {template!r}: pass the template, not its name: "
                         f"template=templating.get_template({template!r})")
    raise InputError(f"template must be a template (templating.get_template) or TemplateRules, "
                     f"not {type(template).__name__}")


def check_tokenizer(tokenizer: Any) -> Any:
    """A tokenizer object as it is (None: none); InputError for a name or path, which the caller
    loads (`templating.load_tokenizer`, the one loader)."""
    if isinstance(tokenizer, (str, os.PathLike)):
        name = os.fspath(tokenizer)
        raise InputError(f"tokenizer {name!r}: pass the tokenizer, not its name: "
                         f"tokenizer=templating.load_tokenizer({name!r})")
    return tokenizer

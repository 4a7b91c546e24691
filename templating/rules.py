"""The registry's answer to validation's template-rules interface (entry point
`instructkit.template_rules`): special tokens, roles and alternation of each template."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from validation.models import ROLES
from validation.rules import TemplateRules


def lookup(name: str) -> TemplateRules | None:
    """Rules for a registered template name or alias; None when the registry has no such name."""
    from templating import get_template
    from templating.registry import resolve

    try:
        template = get_template(resolve(name))
    except KeyError:
        return None
    spec = template.spec
    roles = frozenset(r for r in ROLES if r != "system" or spec.supports_system)

    def render(messages: Sequence[Any]) -> str:
        return template.render(messages).text

    return TemplateRules(spec.name, spec.special_tokens, roles=roles, alternating=spec.alternating, render=render)


def names() -> list[str]:
    from templating import list_templates

    return [spec.name for spec in list_templates()]


lookup.names = names  # type: ignore[attr-defined]

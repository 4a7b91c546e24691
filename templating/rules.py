"""A template's validation rules (`ChatTemplate.rules`): its special tokens, roles, alternation,
what it renders of tools and reasoning, and the render and audit hooks validation calls with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from validation.models import ROLES
from validation.checks.rules import TemplateRules

if TYPE_CHECKING:
    from templating.registry import ChatTemplate


def rules_of(template: ChatTemplate) -> TemplateRules:
    """The validation rules of a compiled template (registered or built from a tokenizer)."""
    spec = template.spec
    roles = frozenset(r for r in ROLES if r != "system" or spec.supports_system)

    def render(messages: Sequence[Any]) -> str:
        return template.render(messages).text

    def render_prompt(messages: Any) -> str:
        return template.render(messages, add_generation_prompt=True).text

    def audit(conversations: Sequence[Any], tokenizer: Any, max_length: int | None = None,
              over_length: str = "truncate", train_on: str = "all") -> list[Any]:
        from templating.supervision.conversations import Auditor

        return Auditor(tokenizer, template, max_length, over_length, train_on).audit(conversations)

    def audit_pairs(rows: Sequence[Any], tokenizer: Any, max_length: int | None = None,
                    max_prompt_length: int | None = None) -> list[Any]:
        from templating.supervision.pairs import audit_pairs as audit_of

        return audit_of(rows, tokenizer, template, max_length, max_prompt_length)

    from templating.probes.capabilities import capabilities, part_support, reasoning_support

    return TemplateRules(spec.name, spec.special_tokens, roles=roles, alternating=spec.alternating,
                         trims_content=spec.trims_content, render=render, render_prompt=render_prompt,
                         audit=audit, tools=capabilities(template), reasoning=reasoning_support(template),
                         audit_pairs=audit_pairs, parts=part_support(template))

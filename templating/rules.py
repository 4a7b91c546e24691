"""The registry's answer to validation's template-rules interface (entry point
`instructkit.template_rules` names `PROVIDER`, a `validation.checks.rules.TemplateProvider`): special
tokens, roles, alternation, rendering and the audit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from templating.registry import ChatTemplate
from validation.models import ROLES
from validation.checks.rules import TemplateRules


def rules_of(template: ChatTemplate) -> TemplateRules:
    """The validation rules of a compiled template (registered or built from a tokenizer)."""
    spec = template.spec
    roles = frozenset(r for r in ROLES if r != "system" or spec.supports_system)

    def render(messages: Sequence[Any]) -> str:
        return template.render(messages).text

    def audit(conversations: Sequence[Any], tokenizer: Any, max_length: int | None = None,
              over_length: str = "truncate", train_on: str = "all") -> list[Any]:
        from templating.audit import Auditor

        return Auditor(tokenizer, template, max_length, over_length, train_on).audit(conversations)

    def audit_pairs(rows: Sequence[Any], tokenizer: Any, max_length: int | None = None,
                    max_prompt_length: int | None = None) -> list[Any]:
        from templating.pair_audit import audit_pairs as audit_of

        return audit_of(rows, tokenizer, template, max_length, max_prompt_length)

    from templating.capabilities import capabilities, reasoning_support

    return TemplateRules(spec.name, spec.special_tokens, roles=roles, alternating=spec.alternating,
                         trims_content=spec.trims_content, render=render,
                         audit=audit, tools=capabilities(template), reasoning=reasoning_support(template),
                         audit_pairs=audit_pairs)


class RegistryProvider:
    """The template registry as a `TemplateProvider`."""

    def rules(self, name: str) -> TemplateRules | None:
        """Rules for a registered template name or alias; None when the registry has no such name."""
        from templating import get_template

        try:
            return rules_of(get_template(name))
        except KeyError:
            return None

    def names(self) -> list[str]:
        from templating import list_templates

        return [spec.name for spec in list_templates()]

    def tokenizer(self, name_or_path: str) -> Any:
        """A transformers tokenizer for a hub id, a folder or a GGUF file; SmolLM2's id is the embedded one."""
        from templating.embedded import load_tokenizer

        return load_tokenizer(name_or_path)  # ModelNotFound, an InputError, when it cannot be loaded


PROVIDER = RegistryProvider()
lookup = PROVIDER.rules  # the entry point's older name
names, tokenizer = PROVIDER.names, PROVIDER.tokenizer  # its older attributes

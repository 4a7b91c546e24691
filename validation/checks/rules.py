"""Template-aware rules for validation, behind a small typed interface the template registry fills.

`validation` imports neither of the other packages. A template package makes its templates
known here through the `instructkit.template_rules` entry point: an object of the
`TemplateProvider` protocol (`rules(name)`, `names()`, `tokenizer(name)`). A template's audit
hook (`AuditHook`) answers one `RowAudit` per conversation whose findings are `Finding`s: data
(message index, field, code, text), not text to parse. ChatML is built in so the checks work
(and are tested) on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any, NamedTuple, Protocol, runtime_checkable

from validation.errors import UnknownName
from validation.models import ROLES
from validation.checks.reasoning import ReasoningSupport

GROUP = "instructkit.template_rules"


@dataclass(frozen=True)
class ToolSupport:
    """What a template renders of tool-calling conversations, probed from its text
    (templating/capabilities.py): the tool list, calls, several calls in one turn, the forms of
    `function.arguments` that come out as the JSON they hold ("object", "string"), and an
    assistant call whose content is null (without printing "None")."""

    tools: bool
    tool_calls: bool
    parallel_calls: bool
    arguments: tuple[str, ...]
    null_content: bool

    def describe(self) -> str:
        """One line for `instructkit templates`."""
        if not (self.tools or self.tool_calls):
            return "no tools"
        parts = ["tools" if self.tools else "calls without tool list"]
        if self.tool_calls:
            parts.append("parallel calls" if self.parallel_calls else "one call per turn")
            parts.append("arguments as " + (" or ".join(self.arguments) if self.arguments else "neither form"))
            parts.append("null content" if self.null_content else "no null content")
        return ", ".join(parts)


@dataclass(frozen=True)
class TemplateRules:
    """What a chat template refuses: its special tokens inside content, roles, non-alternation.

    `render` (optional) gives the exact text the template produces, so `--max-length` can be
    measured in tokens of what the model will really see; `audit` (optional) gives each
    conversation's token ids, assistant mask and what training on it supervises (statistics count
    trainable tokens with it).
    """

    name: str
    special_tokens: tuple[str, ...]
    roles: frozenset[str] = frozenset(ROLES)
    alternating: bool = False
    trims_content: bool = False  # the template strips edge whitespace of content (what --fix mirrors)
    render: Callable[[Sequence[Any]], str] | None = field(default=None, compare=False)
    audit: AuditHook | None = field(default=None, compare=False)
    tools: ToolSupport | None = field(default=None, compare=False)  # None: not known (no check)
    reasoning: ReasoningSupport | None = field(default=None, compare=False)  # None: not known (no check)
    # preference rows (validation.models.Preference / Unpaired), tokenizer, max_length -> RowAudit per row
    audit_pairs: Callable[..., Sequence[Any]] | None = field(default=None, compare=False)

    @property
    def flags_plain_rows(self) -> bool:
        """Does the template's reasoning support warn about rows without any reasoning (so that no
        fast path may clear a row unseen)?"""
        return self.reasoning is not None and (self.reasoning.empty_block or "plain" in self.reasoning.prompt_trained)


class Finding(NamedTuple):
    """One audit finding: the message it is about (its index in the conversation; None: the
    whole conversation), the field in that message, the code (validation/codes.py), the text."""

    message: int | None
    field: str | None
    code: str
    text: str

    @property
    def path(self) -> str:
        """Where in the canonical conversation: `messages[2].content`, or `messages`."""
        return "messages" if self.message is None else f"messages[{self.message}].{self.field}"


class RowAudit(Protocol):
    """One conversation as training sees it (templating/audit.py builds them)."""

    ids: list[int]  # token ids, before truncation
    mask: list[int]  # 1 where a token is trained
    messages: list[Any]  # the messages trained on (fewer when the oldest turns are dropped)
    findings: list[Finding]
    dropped: bool  # left out of training (over_length: drop / raise, or refused by the template)


class AuditHook(Protocol):
    def __call__(self, conversations: Sequence[Any], tokenizer: Any, max_length: int | None = None,
                 over_length: str = "truncate", train_on: str = "all", /) -> Sequence[RowAudit]: ...


@runtime_checkable
class TemplateProvider(Protocol):
    """What the `instructkit.template_rules` entry point names."""

    def rules(self, name: str) -> TemplateRules | None:
        """The rules of template `name` (a name or alias), None when this provider has no such template."""

    def names(self) -> list[str]:
        """The template names this provider knows."""

    def tokenizer(self, name_or_path: str) -> Any:
        """A tokenizer for a hub id, folder or GGUF file (raises an InputError when it cannot)."""


CHATML = TemplateRules("chatml", ("<|im_start|>", "<|im_end|>"))


@cache
def _providers() -> tuple[TemplateProvider, ...]:
    return tuple(_provider(ep.load()) for ep in entry_points(group=GROUP))


def _provider(loaded: Any) -> TemplateProvider:
    """An entry point's object; a plain `lookup(name)` function (the older form, with optional
    `names`/`tokenizer` attributes) is adapted."""
    if isinstance(loaded, TemplateProvider):
        return loaded

    class Adapted:
        def rules(self, name: str) -> TemplateRules | None:
            return loaded(name)

        def names(self) -> list[str]:
            return list(getattr(loaded, "names", list)())

        def tokenizer(self, name_or_path: str) -> Any:
            load = getattr(loaded, "tokenizer", None)
            if load is None:
                raise UnknownName(f"{name_or_path}: no provider loads tokenizers")
            return load(name_or_path)

    return Adapted()


def get_rules(name: str) -> TemplateRules:
    """The rules of template `name`, from the registry when installed, else the built-in ChatML.

    Raises:
        UnknownName: no provider knows `name`; the message lists the names that exist.
    """
    for provider in _providers():
        rules = provider.rules(name)
        if rules is not None:
            return rules
    if name == CHATML.name:
        return CHATML
    raise UnknownName.among("template", name, [CHATML.name, *(n for p in _providers() for n in p.names())])


def get_tokenizer(name_or_path: str, *, chat_template: bool = False) -> Any:
    """The one tokenizer resolver. A `tokenizer.json` file is read with `tokenizers` (no torch,
    no chat template), and so is a folder holding one unless `chat_template` is wanted; any
    other name (a folder, a hub id, a GGUF file, the embedded SmolLM2) goes to the template
    provider, which loads a transformers tokenizer with its chat template.

    Raises:
        UnknownName: a path that does not exist, or no provider to load the name.
        ModelNotFound: the provider cannot load it (offline hub, not a tokenizer).
    """
    from pathlib import Path

    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".json" or not chat_template and (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path if path.is_file() else path / "tokenizer.json"))
    if not path.exists() and (path.suffix == ".json" or path.is_absolute() or name_or_path.startswith(".")):
        raise UnknownName(f"{name_or_path}: no such file or folder")  # a path, not a hub id
    for provider in _providers():
        return provider.tokenizer(name_or_path)
    raise UnknownName(f"{name_or_path}: not a tokenizer.json or a folder with one, and no provider loads tokenizers")

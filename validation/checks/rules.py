"""Template-aware rules for validation: the `TemplateRules` object a template hands in.

`validation` imports neither of the other packages and looks no template up by name: the
caller passes the rules (or a template object that has them as `.rules`, as
`templating.get_template(name)` does); names become objects at the edges only, the CLI and the
training config. A template's audit hook (`AuditHook`) answers one `RowAudit` per conversation
whose findings are `Finding`s: data (message index, field, code, text), not text to parse.
`CHATML` is built in, so the checks work (and are tested) on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, NamedTuple, Protocol

from validation.models import ROLES
from validation.checks.reasoning import ReasoningSupport


@dataclass(frozen=True)
class ToolSupport:
    """What a template renders of tool-calling conversations, probed from its text
    (templating/probes/capabilities.py): the tool list, calls, several calls in one turn, the forms of
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
class PartSupport:
    """What a template renders of content parts (validation/content.py), probed from its text
    (templating/probes/capabilities.py): `roles`: the roles whose text parts reach the text, none
    written as a list; `images`: the types of image part (`image`, `image_url`) that leave their
    placeholder in a user's turn (not dropped, not refused); `refused`: (role, what the template
    does instead) for the other roles probed (system, user, assistant); `strings`: the roles whose
    string content reaches the text (all but for templates that read parts only); `single`: the
    roles where it writes the first text part only (llava-next's system and replies)."""

    roles: tuple[str, ...]
    images: tuple[str, ...] = ()
    refused: tuple[tuple[str, str], ...] = ()
    strings: tuple[str, ...] = ROLES
    single: tuple[str, ...] = ()

    def needs_parts(self, role: str) -> bool:
        """Whether a string content of `role` would not reach the text (a tool result: as a user's)."""
        return (role if role != "tool" else "user") not in self.strings

    @cached_property
    def parts_only(self) -> bool:
        """Whether some role reads parts only (a string there renders as nothing); computed once,
        as the fast paths ask it for every row."""
        return any(map(self.needs_parts, ROLES))

    def takes(self, role: str) -> bool:
        """Whether the template renders text parts in a message of `role` (a tool result: never probed, so no)."""
        return role in self.roles

    def why(self, role: str) -> str:
        """What the template does with parts in a message of `role` instead of rendering them."""
        return dict(self.refused).get(role, "not probed for this role")

    def describe(self) -> str:
        """One line for `instructkit templates`."""
        if not self.roles:
            return "no content parts"
        kinds = ["text", *self.images]
        line = f"{', '.join(kinds[:-1]) + ' and ' if len(kinds) > 1 else ''}{kinds[-1]} parts"
        if not self.strings:
            line += " only (no strings)"
        elif len(self.roles) < 3 and not (self.roles == ("user", "assistant") and not self.refused):
            line += f" ({', '.join(self.roles)} only)"
        if self.single:
            line += f"; the first text part only in {' and '.join(self.single)} turns"
        return line


@dataclass(frozen=True)
class TemplateRules:
    """What a chat template refuses: its special tokens inside content, roles, non-alternation.

    `render` (optional) gives the exact text the template produces, so `--max-length` can be
    measured in tokens of what the model will really see; `render_prompt` (optional) the text
    of a prompt with the generation prompt added, as a prompt-only row is rendered to generate
    from (it raises ValueError where the template refuses); `audit` (optional) gives each
    conversation's token ids, assistant mask and what training on it supervises (statistics count
    trainable tokens with it).
    """

    name: str
    special_tokens: tuple[str, ...]
    roles: frozenset[str] = frozenset(ROLES)
    alternating: bool = False
    trims_content: bool = False  # the template strips edge whitespace of content (what --fix mirrors)
    render: Callable[[Sequence[Any]], str] | None = field(default=None, compare=False)
    render_prompt: Callable[[Any], str] | None = field(default=None, compare=False)
    audit: AuditHook | None = field(default=None, compare=False)
    tools: ToolSupport | None = field(default=None, compare=False)  # None: not known (no check)
    reasoning: ReasoningSupport | None = field(default=None, compare=False)  # None: not known (no check)
    parts: PartSupport | None = field(default=None, compare=False)  # None: not known (no check)
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
    """One conversation as training sees it (templating/supervision/conversations.py builds them)."""

    ids: list[int]  # token ids, before truncation
    mask: list[int]  # 1 where a token is trained
    messages: list[Any]  # the messages trained on (fewer when the oldest turns are dropped)
    findings: list[Finding]
    dropped: bool  # left out of training (over_length: drop / raise, or refused by the template)


class AuditHook(Protocol):
    def __call__(self, conversations: Sequence[Any], tokenizer: Any, max_length: int | None = None,
                 over_length: str = "truncate", train_on: str = "all", /) -> Sequence[RowAudit]: ...


class HasRules(Protocol):
    """A template object that carries its validation rules (`templating.ChatTemplate`)."""

    @property
    def rules(self) -> TemplateRules: ...


CHATML = TemplateRules("chatml", ("<|im_start|>", "<|im_end|>"))  # ChatML's refusals, without render or audit



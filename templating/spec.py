"""What the registry knows about a template besides its Jinja text: `TemplateSpec`, the turn
layout the fast renderer writes and `parse` reads (`TurnFormat`), and what rendering returns
(`Rendered`). Plain values, imported by the registry, the built-ins and the fast renderer alike."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class TurnFormat:
    """How a template lays out turns: each role's header and footer. `span_prefix` opens the
    trained span (qwen2.5's '\\n'); `writes_bos`: the text starts with the spec's BOS token;
    `final_eos` ends a conversation without a generation prompt (phi3); `refuse_leading_system`:
    a system message first raises, later ones render (gemma); an empty footer: the turn runs to the
    next header (deepseek-r1-distill's user turns, its system prompt); `think`: (open, close) of the
    think block every assistant turn begins with (qwen3's training variant: empty without
    reasoning; the reply is written without its leading newlines). The rest (generation prompt, BOS,
    default system prompt, trimming, alternation) is the `TemplateSpec`'s: one table, builtins.py."""

    user: tuple[str, str]
    assistant: tuple[str, str]
    system: tuple[str, str]
    span_prefix: str = ""
    writes_bos: bool = False
    final_eos: str = ""
    refuse_leading_system: bool = False
    think: tuple[str, str] | None = None
    # A system message first is written at the start of the first user turn, between these two (gemma3: "" and
    # "\n\n"; llama2: "<<SYS>>\n" and "\n<</SYS>>\n\n"), not as a turn of its own; a system message anywhere else
    # renders with Jinja. `fold_then_trim`: the template trims the folded text (llama2), not the user's alone (gemma3).
    fold_system: tuple[str, str] | None = None
    fold_then_trim: bool = False
    # The template takes no system message: a row with one renders with Jinja, which refuses it as the template
    # does (mistral: by alternation first, else "Only user and assistant roles are supported!").
    no_system: bool = False
    # A system message only opens the conversation: one later renders with Jinja, which refuses it (alpaca).
    system_first_only: bool = False
    # False: `parse` cannot read the text back (a system prompt folded into a user turn, a reply without a header
    # to find it by, footers that content may hold: gemma3, llama2, mistral, alpaca); the layout is the fast path's
    parsable: bool = True
    # False: the layout is `parse`'s only (deepseek-r1-distill writes every system message at the
    # start, which the fast renderer does not); its rows render with Jinja
    fast: bool = True


class PinnedDate:
    """`strftime_now` for templates that print today's date (gpt-oss): a fixed day (YYYY-MM-DD), so
    that a render does not change from one day to the next (passed in `TemplateSpec.variables`)."""

    def __init__(self, day: str) -> None:
        self.day = day

    def __call__(self, fmt: str) -> str:
        from datetime import datetime

        return datetime.strptime(self.day, "%Y-%m-%d").strftime(fmt)

    def __repr__(self) -> str:
        return f"PinnedDate({self.day!r})"


@contextmanager
def transformers_clock(spec: TemplateSpec) -> Iterator[None]:
    """transformers' `strftime_now` reads the spec's `PinnedDate` meanwhile (a callable cannot travel
    to its templates as a variable: it turns variables into plain data), so that its render of the
    template (TRL's tokenization, the parity oracle) prints the day ours prints."""
    day = next((v.day for v in spec.variables.values() if isinstance(v, PinnedDate)), None)
    if day is None:
        yield
        return
    from datetime import datetime
    from unittest import mock

    class Pinned(datetime):
        @classmethod
        def now(cls, tz: Any = None) -> datetime:  # noqa: ARG003 - datetime.now's signature
            return datetime.strptime(day, "%Y-%m-%d")

    with mock.patch("transformers.utils.chat_template_utils.datetime", Pinned):
        yield


def plain_variables(spec: TemplateSpec) -> dict[str, Any]:
    """The spec's variables transformers can take as template variables (a `PinnedDate` it cannot:
    `transformers_clock`)."""
    return {k: v for k, v in spec.variables.items() if not isinstance(v, PinnedDate)}


@dataclass(frozen=True, slots=True)  # slots: templating/_turns.c fills them as it makes one
class Rendered:
    """A rendered conversation and the character spans the model learns to produce."""

    text: str
    assistant_spans: list[tuple[int, int]]


@dataclass(frozen=True)
class TemplateSpec:
    """What the registry knows about a template besides its Jinja text."""

    name: str
    special_tokens: tuple[str, ...]
    end_of_turn: str
    generation_prompt: str
    bos_token: str = ""
    eos_token: str = ""
    supports_system: bool = True
    alternating: bool = False
    default_system: str | None = None
    trims_content: bool = False
    aliases: tuple[str, ...] = ()
    source: str = ""
    stop_strings: tuple[str, ...] = ()
    official: str | None = field(default=None, repr=False)
    training: str | None = field(default=None, repr=False)
    turns: TurnFormat | None = field(default=None, repr=False)  # the layout `fast` renders and `parse` reads
    # Variables every render passes (Llama 3.x's `date_string`, pinned so that renders do not change by the day).
    variables: dict[str, Any] = field(default_factory=dict, repr=False)
    call_syntax: str | None = None  # how its replies write tool calls, for reading them back (templating/toolcalls.py)
    # Where the training variant renders other text than the official one (empty: nowhere), in words for the docs.
    training_differs: str = ""
    jinja_name: str | None = None  # the resources' name when another template's files serve (qwen3-nothink: qwen3's)
    # The markers a trained reply may end with, where there are several (gpt-oss: <|end|> in history, <|return|> last,
    # <|call|> after a call); empty: `end_of_turn` alone.
    reply_ends: tuple[str, ...] = ()
    family: str = ""  # the model family `instructkit templates` groups it under; empty: the name's leading letters

    @property
    def family_name(self) -> str:
        """`family`, or the leading letters of the name (qwen for qwen3.5-nothink, llama for llama3.1)."""
        return self.family or next((part for part in re.findall(r"[a-z]+", self.name)), self.name)

    @property
    def end_markers(self) -> tuple[str, ...]:
        """What a trained reply ends with: `reply_ends`, or the end-of-turn marker."""
        return self.reply_ends or (self.end_of_turn,)

    @property
    def stops(self) -> tuple[str, ...]:
        return self.stop_strings or (self.end_of_turn,)

"""Reasoning traces of assistant turns: where a row keeps them, what is wrong with them, and what
a template makes of them.

A reply's reasoning is either a field of the message (`reasoning_content` as Qwen3 and vLLM write
it, `reasoning`, `thinking`) or a think block at the start of its content (`<think>…</think>`, as
DeepSeek-R1 distills write it; the opening tag may be missing when the generation prompt wrote
it). `reasoning_of` reads either; the checks below say where a row's traces would be lost or
mangled, and `ReasoningSupport` (probed from each template, templating/probes/capabilities.py) what the
chosen template trains of them.

Findings come back as (path, code, message); the caller places them at its row.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

from validation.content import text_of

REASONING_FIELDS = ("reasoning_content", "reasoning", "thinking")
OPEN, CLOSE = "<think>", "</think>"
THINK_TAGS = (OPEN, CLOSE)  # a row holding one is left to the precise checks by every fast path
Found = tuple[str, str, str]  # (path, code, message)
# A row with one of these is not checked against the template: what it would train is not clear.
REASONING_ERRORS = frozenset({"unclosed-think", "unbalanced-think", "reasoning-twice", "wrong-type"})
PathFn = Callable[[int, str], str]


class Reasoning(NamedTuple):
    """One assistant reply split into its reasoning (None: it has none) and its answer; `source`
    is the field it came from, "inline" for a think block in the content, or None."""

    text: str | None
    answer: str
    source: str | None


def split_inline(content: str) -> tuple[str | None, str]:
    """(reasoning, answer) of content that holds a think block, as Qwen3's template splits it:
    the text before `</think>` (after `<think>` when there is one) and what follows, newlines
    at the seams trimmed. No `</think>`: (None, content).

    Example:
        >>> split_inline("<think>\\nAdd them.\\n</think>\\n\\n4")
        ('Add them.', '4')
        >>> split_inline("Add them.</think>4")  # the generation prompt opened the block
        ('Add them.', '4')
    """
    if CLOSE not in content:
        return None, content
    before, _, after = content.partition(CLOSE)
    return before.rstrip("\n").split(OPEN)[-1].lstrip("\n"), after.lstrip("\n")


def reasoning_of(message: Any) -> Reasoning:
    """The reasoning and answer of a message dict (a field first, then an inline block)."""
    content = message.get("content") if isinstance(message, dict) else None
    content = content if isinstance(content, str) else ""
    if isinstance(message, dict) and message.get("role") == "assistant":
        for name in REASONING_FIELDS:
            value = message.get(name)
            if isinstance(value, str):
                return Reasoning(value, content, name)
        text, answer = split_inline(content)
        if text is not None:
            return Reasoning(text, answer, "inline")
    return Reasoning(None, content, None)


def think_range(text: str, start: int, end: int) -> tuple[int, int] | None:
    """Where the think block of a rendered reply (`text[start:end]`) lies, tags included: from its
    `<think>` (the span's start when the generation prompt opened it) to the end of its
    `</think>`; None without a `</think>`.

    Example:
        >>> think_range("<|im_start|>assistant\\n<think>\\nhm\\n</think>\\n\\n4<|im_end|>", 22, 52)
        (22, 41)
    """
    close = text.find(CLOSE, start, end)
    if close < 0:
        return None
    opened = text.rfind(OPEN, start, close)
    return (opened if opened >= 0 else start), close + len(CLOSE)


def has_think_tags(text: str) -> bool:
    return OPEN in text or CLOSE in text


def think_issues(content: str, where: str) -> list[Found]:
    """What is wrong with the think tags of one assistant content."""
    opens, closes = content.count(OPEN), content.count(CLOSE)
    if opens > 1 or closes > 1 or (opens and closes and content.index(CLOSE) < content.index(OPEN)):
        return [(where, "unbalanced-think", f"{opens} {OPEN} and {closes} {CLOSE}, or {CLOSE} before {OPEN}: "
                                            "one think block at the start of the reply is what templates read")]
    if opens and not closes:
        return [(where, "unclosed-think", f"{OPEN} at offset {content.index(OPEN)} is never closed: the reply "
                                          "would train as reasoning with no answer (a truncated trace?)")]
    if opens and content[:content.index(OPEN)].strip():
        return [(where, "text-before-think", f"{content.index(OPEN)} characters before {OPEN}: templates that "
                                             "split the reply at the think block drop them")]
    return []


def reasoning_issues(messages: Sequence[Any], path: PathFn) -> list[Found]:
    """The reasoning checks of raw message dicts (assistant turns; think tags elsewhere are text). Content written as
    parts is read as its text parts joined, as the templates that take parts write them."""
    found: list[Found] = []
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or m.get("role") != "assistant":
            continue
        content = m.get("content")
        content = content if isinstance(content, str) else text_of(content) if isinstance(content, list) else ""
        fields = [name for name in REASONING_FIELDS if m.get(name) is not None]
        for name in fields:
            if not isinstance(m[name], str):
                found.append((path(i, name), "wrong-type", f"{name} must be a string"))
        if len(fields) > 1 or (fields and CLOSE in content):
            both = ", ".join(fields + (["a think block in content"] if CLOSE in content else []))
            found.append((path(i, fields[-1]), "reasoning-twice",
                          f"the reply holds its reasoning twice ({both}): a template renders one and trains the "
                          "other as answer text"))
        if has_think_tags(content):
            found += think_issues(content, path(i, "content"))
    return found


@dataclass(frozen=True)
class ReasoningSupport:
    """What a template trains of reasoning, probed from its training variant
    (templating/probes/capabilities.py): `field`, the message field it prints (None: none, so only inline
    think blocks, which are content, reach the text); `empty_block`: it puts an empty think block
    in the trained span of a reply without reasoning; `prompt_trained`: the kinds of reply
    ("reasoning": opening with a think block; "plain": without one) whose trained span begins inside
    the generation prompt, so that text inference writes itself is trained; `history`: the reasoning
    of a reply with another exchange after it is trained (False: the template drops it there, as
    nemotron-3's and deepseek-v3's do)."""

    field: str | None
    empty_block: bool
    prompt_trained: tuple[str, ...] = ()
    history: bool = True

    def describe(self) -> str:
        """One line for `instructkit templates`."""
        parts = [f"reads {self.field}" if self.field else "reasoning inline only"]
        if self.empty_block:
            parts.append("trains an empty think block")
        if self.prompt_trained:
            parts.append("trains its generation prompt")
        if not self.history:
            parts.append("drops earlier replies' reasoning")
        return ", ".join(parts)


def template_reasoning_issues(messages: Sequence[Any], support: ReasoningSupport, template: str,
                              root: str) -> list[Found]:
    """One warning per row and kind: reasoning the template leaves out of training (a field it does not
    print; earlier replies' reasoning it drops), empty think blocks it trains, and generation-prompt
    text it trains (raw message dicts of a valid row)."""
    replies = [reasoning_of(m) for m in messages if isinstance(m, dict) and m.get("role") == "assistant"
               and not m.get("tool_calls") and m.get("train") is not False]  # a turn left out trains nothing
    found: list[Found] = []
    dropped = [r for r in replies if r.source not in (None, "inline") and r.source != support.field]
    if dropped:
        lost = sum(len(r.text or "") for r in dropped)
        found.append((root, "reasoning-dropped",
                      f"template {template} does not print {dropped[0].source}: {lost} characters of reasoning in "
                      f"{len(dropped)} turn(s) would not be trained (--fix moves them into the content)"))
    if not support.history:  # replies with reasoning and a user turn after them: the template drops it there
        users = [i for i, m in enumerate(messages) if isinstance(m, dict) and m.get("role") == "user"]
        earlier = [reasoning_of(m) for i, m in enumerate(messages) if users and i < users[-1]
                   and isinstance(m, dict) and m.get("role") == "assistant" and m.get("train") is not False]
        earlier = [r for r in earlier if (r.text or "").strip()]
        if earlier:
            found.append((root, "history-reasoning-dropped",
                          f"template {template} drops the reasoning of replies before the last user turn: "
                          f"{sum(len(r.text or '') for r in earlier)} characters in {len(earlier)} turn(s) would "
                          "train as answers without their reasoning"))

    def kind(r: Reasoning) -> str:  # does the reply reach the text with a think block of its own?
        return "reasoning" if r.source == "inline" or (r.source is not None and r.source == support.field) \
            else "plain"

    plain = [r for r in replies if kind(r) == "plain" or not (r.text or "").strip()]
    # where the empty block is the generation prompt's (qwen3-nothink), the next warning says it
    if support.empty_block and plain and "plain" not in support.prompt_trained:
        found.append((root, "empty-think-supervised",
                      f"template {template} trains an empty think block in {len(plain)} turn(s) without reasoning: "
                      "the model learns to skip thinking there"))
    trained = [r for r in replies if kind(r) in support.prompt_trained]
    if trained:
        found.append((root, "generation-prompt-trained",
                      f"template {template} trains (part of) its generation prompt in {len(trained)} turn(s): "
                      "text inference writes itself before the model's first token"))
    return found


def inline(message: dict[str, Any]) -> dict[str, Any]:
    """The message with its field reasoning moved into the content as a think block (the form
    every template trains); unchanged when it has none or already holds one inline."""
    found = reasoning_of(message)
    if found.source in (None, "inline"):
        return message
    rest = {k: v for k, v in message.items() if k != found.source}
    return {**rest, "content": f"{OPEN}\n{found.text}\n{CLOSE}\n\n{found.answer}"}

"""Trained spans of a template that has no `{% generation %}` marks (a model's own template, a
Jinja file), derived by rendering, not guessed: an assistant turn trains the text it adds after
the generation prompt, up to where the next message begins — its content and its end-of-turn
marker, exactly what a marked training template of the same text marks. This holds for
prefix-preserving templates (rendering a conversation's first turns gives the start of its whole
render); a template that is not (one that drops earlier turns' reasoning, or whose generation
prompt is not the header its replies are rendered under) is refused with the turn that shows it.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from templating.environment import TemplateError

MARKED = re.compile(r"\{%-?\s*generation\b")


def is_marked(text: str) -> bool:
    """Whether a template's text marks its trained spans with `{% generation %}`."""
    return MARKED.search(text) is not None


def first_difference(a: str, b: str) -> int:
    """The index of the first character where `a` and `b` differ (the shorter length when one is
    a prefix of the other): where a render drifted, for messages that quote it."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), min(len(a), len(b)))


def end_marker(text: str, markers: tuple[str, ...], start: int) -> tuple[str, int]:
    """The first of `markers` (a template's `end_markers`) in `text` from `start`, and where:
    (marker, index), or (markers[0], -1) when none follows.

    Example:
        >>> end_marker("<|message|>Hi<|return|>", ("<|return|>", "<|end|>"), 0)
        ('<|return|>', 13)
    """
    found = [(at, marker) for marker in markers if (at := text.find(marker, start)) >= 0]
    if not found:
        return markers[0], -1
    at, marker = min(found)
    return marker, at


def derived_spans(render: Callable[[list[Any], bool], str], messages: list[dict[str, Any]], text: str,
                  name: str, prompted: bool = True) -> list[tuple[int, int]]:
    """The span of each assistant turn in `text` (the render of `messages`; `prompted`: with the
    generation prompt, else `text` is what the whole conversation renders to without it and serves
    as the last turn's render), from `render(prefix, add_generation_prompt)`. TemplateError when the
    template is not prefix-preserving there.

    Example:
        >>> from templating import get_template
        >>> from templating.environment import compile_template, render_with_spans
        >>> official = compile_template(get_template("chatml").official_jinja)
        >>> def render(ms, gen): return render_with_spans(official, messages=ms, add_generation_prompt=gen)[0]
        >>> ms = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
        >>> text = render(ms, False)
        >>> [text[a:b] for a, b in derived_spans(render, ms, text, "chatml")]
        ['Hello<|im_end|>\\n']
    """
    spans = []
    for i, message in enumerate(messages):
        if message.get("role") != "assistant":
            continue
        try:  # (a conversation that opens with a reply: what the template writes before any message)
            prompt = render(messages[:i], True)
        except TemplateError:
            if i:
                raise
            raise TemplateError(f"template {name} cannot render the empty prompt before a conversation that "
                                "opens with the assistant, so the span of that reply cannot be derived") from None
        last = i == len(messages) - 1 and not prompted
        through = text if last else render(messages[:i + 1], False)  # (`text` may end with a generation prompt)
        _prefix(prompt, through, name, f"the generation prompt before messages[{i}] renders {{}} where the "
                                       "conversation has {}")
        _prefix(through, text, name, f"messages[:{i + 1}] renders {{}} where the whole conversation has {{}} (later "
                                     "turns change it)")
        if len(through) > len(prompt):
            spans.append((len(prompt), len(through)))
    return spans


def _prefix(head: str, whole: str, name: str, where: str) -> None:
    """TemplateError unless `whole` starts with `head`: `where` says what differs, its two `{}` the
    two texts from the first character that differs."""
    if whole.startswith(head):
        return
    at = first_difference(head, whole)
    raise TemplateError(f"template {name} is not prefix-preserving, so the spans of its replies cannot be derived: "
                        + where.format(repr(head[at:at + 30]), repr(whole[at:at + 30]))
                        + "; give a template with {% generation %} marks")

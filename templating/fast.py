"""A direct renderer for built-ins whose turns are header + content + footer.

It produces the same text and spans as the Jinja training template (property tests compare
them on generated conversations) without the template engine: about 10× faster, which is what
makes rendering whole datasets cheap. Anything outside the simple shape (tool calls, extra
message fields, a tool role) returns None and the caller renders with Jinja.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from templating.environment import TemplateError
from templating.spec import Rendered, TemplateSpec

ALTERNATE = "Conversation roles must alternate user/assistant/user/assistant/..."


_PLAIN_KEYS = frozenset({"role", "content"})


def plain_turns(messages: Sequence[Any]) -> list[tuple[str, str]] | None:
    """(role, content) pairs when every message is a plain system/user/assistant turn, else None."""
    turns = []
    for m in messages:
        if isinstance(m, dict):
            # other keys only when present: {role, content} itself is the common case, set arithmetic the rare one
            if len(m) > ("role" in m) + ("content" in m) and any(m.get(k) is not None for k in m.keys() - _PLAIN_KEYS):
                return None
            role, content = m.get("role"), m.get("content")
        else:
            if getattr(m, "tool_calls", None) or getattr(m, "name", None) or getattr(m, "tool_call_id", None) \
                    or getattr(m, "model_extra", None):
                return None
            role, content = getattr(m, "role", None), getattr(m, "content", None)
        if role not in ("system", "user", "assistant") or type(content) is not str:
            return None
        turns.append((role, content))
    return turns or None


# The flags of `layout_of`'s tuple, as templating/_turns.c reads them.
TRIMS, ALTERNATING, REFUSE_LEADING_SYSTEM, NO_SYSTEM, SYSTEM_FIRST_ONLY, FOLD_THEN_TRIM = 1, 2, 4, 8, 16, 32


def layout_of(spec: TemplateSpec) -> tuple[Any, ...] | None:
    """The turn layout as the C renderer (templating/_turns.c) reads it, built once per template; None
    without one. C renders lists of plain message dicts with it and leaves everything else (None) to
    `plain_turns` + `render_turns`, which it equals (property tests)."""
    fmt = spec.turns
    if fmt is None or not fmt.fast or spec.official is not None:
        return None
    flags = (TRIMS * spec.trims_content | ALTERNATING * spec.alternating
             | REFUSE_LEADING_SYSTEM * fmt.refuse_leading_system | NO_SYSTEM * fmt.no_system
             | SYSTEM_FIRST_ONLY * fmt.system_first_only | FOLD_THEN_TRIM * fmt.fold_then_trim)
    default_system = None if spec.default_system is None else fmt.system[0] + spec.default_system + fmt.system[1]
    think, fold = fmt.think, fmt.fold_system
    return (spec.bos_token if fmt.writes_bos else "", default_system, *fmt.user, *fmt.assistant, *fmt.system,
            fmt.span_prefix, spec.generation_prompt, fmt.final_eos, flags,
            None if think is None else think[0] + think[1], None if think is None else think[1].strip(),
            *(fold or (None, None)), Rendered)


def render_turns(spec: TemplateSpec, turns: list[tuple[str, str]], add_generation_prompt: bool
                 ) -> tuple[str, list[tuple[int, int]]] | None:
    """Text and spans for plain turns under `spec` (a `TemplateSpec` with `turns`); raises
    `TemplateError` where the official template refuses; None where a reply holds a think block
    the template splits, or the spec has no turn layout (the Jinja path reads it)."""
    fmt = spec.turns
    if fmt is None:
        return None
    think = fmt.think
    if think is not None and any(role == "assistant" and think[1].strip() in text for role, text in turns):
        return None
    if fmt.refuse_leading_system and turns[0][0] == "system":
        raise TemplateError("System role not supported")
    if fmt.no_system and any(role == "system" for role, _ in turns) or \
            fmt.system_first_only and any(role == "system" for role, _ in turns[1:]):
        return None
    prefix = ""
    if fmt.fold_system is not None:
        if turns[0][0] == "system":
            prefix, turns = fmt.fold_system[0] + turns[0][1] + fmt.fold_system[1], turns[1:]
        if any(role == "system" for role, _ in turns):
            return None  # (a system message after the first: the Jinja path writes it as the template does)
    bos = spec.bos_token if fmt.writes_bos else ""
    parts = [bos]
    size = len(bos)
    spans: list[tuple[int, int]] = []
    if spec.default_system is not None and turns and turns[0][0] != "system":
        system_text = fmt.system[0] + spec.default_system + fmt.system[1]
        parts.append(system_text)
        size += len(system_text)
    for index, (role, content) in enumerate(turns):
        if spec.alternating and (role == "user") != (index % 2 == 0):
            raise TemplateError(ALTERNATE)
        folded = bool(index == 0 and prefix and role == "user")
        if spec.trims_content and not (folded and fmt.fold_then_trim):
            content = content.strip()
        header, footer = fmt.assistant if role == "assistant" else fmt.user if role == "user" else fmt.system
        # the pieces joined once at the end: a turn's text is not copied into a string of its own
        if role == "assistant":
            start = size + len(header)
            if think is not None:
                content = think[0] + think[1] + content.lstrip("\n")
            parts += (header, fmt.span_prefix, content, footer)
            size = start + len(fmt.span_prefix) + len(content) + len(footer)
            spans.append((start, size))
        else:
            if folded:
                content = prefix + content
                if spec.trims_content and fmt.fold_then_trim:
                    content = content.strip()
            parts += (header, content, footer)
            size += len(header) + len(content) + len(footer)
    if add_generation_prompt:
        parts.append(spec.generation_prompt)
    elif fmt.final_eos:
        parts.append(fmt.final_eos)
        if turns[-1][0] == "assistant":
            spans[-1] = (spans[-1][0], spans[-1][1] + len(fmt.final_eos))
    return "".join(parts), spans


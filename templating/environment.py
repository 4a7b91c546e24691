"""The one place that builds the Jinja environment chat templates render in.

Same settings as transformers' `apply_chat_template` (immutable sandbox, `trim_blocks`,
`lstrip_blocks`, `raise_exception`, a `tojson` that does not HTML-escape, `loopcontrols`), plus a
`{% generation %}` tag that records the character span of what it renders, as HF's
`AssistantTracker` does, so our spans and `return_assistant_tokens_mask` agree.
"""

from __future__ import annotations

import json
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment


class TemplateError(ValueError):
    """A template refused a conversation (its `raise_exception`) or failed to render."""


class _Generation(jinja2.ext.Extension):
    """`{% generation %}...{% endgeneration %}`: renders its body and records its span."""

    tags = {"generation"}

    def parse(self, parser: jinja2.parser.Parser) -> jinja2.nodes.Node:
        lineno = next(parser.stream).lineno
        body = parser.parse_statements(("name:endgeneration",), drop_needle=True)
        return jinja2.nodes.CallBlock(self.call_method("_record", [jinja2.nodes.ContextReference()]),
                                      [], [], body).set_lineno(lineno)

    def _record(self, context: Any, caller: Any) -> str:
        text = caller()
        tracker = context.get("__spans__")
        if tracker is not None:
            blocks, spans = tracker
            start = sum(map(len, blocks))
            spans.append((start, start + len(text)))
        return text


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True,
                                        extensions=[_Generation, jinja2.ext.loopcontrols])
    env.filters["tojson"] = _tojson
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


@lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per distinct source text."""
    try:
        return environment().from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error at line {exc.lineno}: {exc.message}") from None


def render_with_spans(template: jinja2.Template, **variables: Any) -> tuple[str, list[tuple[int, int]]]:
    """Render; return the text and the spans `{% generation %}` blocks produced (adjacent ones merged)."""
    blocks: list[str] = []
    spans: list[tuple[int, int]] = []
    try:
        for block in template.generate(__spans__=(blocks, spans), **variables):
            blocks.append(block)
    except jinja2.TemplateError as exc:
        raise TemplateError(str(exc)) from None
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end == start:
            continue
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return "".join(blocks), merged

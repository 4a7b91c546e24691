"""The one place that builds the Jinja environment chat templates render in.

Same settings as transformers' `apply_chat_template` (immutable sandbox, `trim_blocks`,
`lstrip_blocks`, `raise_exception`, a `tojson` that does not HTML-escape, `loopcontrols`), plus a
`{% generation %}` tag that records the character span of what it renders, as HF's
`AssistantTracker` does, so our spans and `return_assistant_tokens_mask` agree.

User templates are untrusted: besides the sandbox, one render may take at most RENDER_SECONDS
and write at most MAX_CHARS characters (`'x' * 10**9`, loops nested to billions of rounds and
huge powers are refused as they start), and fails with one `TemplateError` line otherwise.
"""

from __future__ import annotations

import contextvars
import json
import time
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.ext
import jinja2.nodes
import jinja2.visitor
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError, safe_range

from templating.errors import TemplateError, TemplateLimit
from validation.models import Conversation
from validation.readers.decode import loads_text

RENDER_SECONDS = 10.0  # one conversation; the largest official template renders a long one in milliseconds
MAX_CHARS = 8_000_000  # one rendered conversation: four times the text of a 500,000-token context
_deadline: contextvars.ContextVar[float] = contextvars.ContextVar("deadline", default=float("inf"))


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
        if tracker is not None:  # [spans, characters written so far, opened] (render_with_spans keeps the count)
            start = tracker[1]
            tracker[0].append((start, start + len(text)))
        return text


# A {% generation %} block whose output streams (`_Streamed`) is compiled as its body between these two
# filters of an empty text: no macro is made and called for each reply, and no call goes through the
# sandbox's checks (filters are the environment's own), which took a third of a training template's render.
@jinja2.pass_context
def _open(context: Any, empty: str) -> str:
    tracker = context.get("__spans__")
    if tracker is not None:
        tracker[2].append(tracker[1])
    return empty


@jinja2.pass_context
def _close(context: Any, empty: str) -> str:
    tracker = context.get("__spans__")
    if tracker is not None:
        tracker[0].append((tracker[2].pop(), tracker[1]))
    return empty


MARKS = ("instructkit_generation_open", "instructkit_generation_close")  # the filters' names


class _Streamed(jinja2.visitor.NodeTransformer):
    """`{% generation %}` blocks whose output streams as `render_with_spans` reads it, rewritten as
    their body between `_open` and `_close`, which read where the text written so far ends. A block
    inside a macro, a `{% call %}`, a `{% filter %}`, a block `{% set %}` or a recursive loop is
    written to a buffer first, so its place in the text is not known when it runs: it keeps
    `_record`, which measures its body's text."""

    def __init__(self, env: jinja2.Environment) -> None:
        self.env = env
        self.buffered = 0  # marks left measuring their body

    def visit_CallBlock(self, node: jinja2.nodes.CallBlock) -> Any:
        if not _is_generation(node):
            return self._buffered(node)  # a {% call %}: its body is a macro's
        marks = [jinja2.nodes.Output([jinja2.nodes.Filter(jinja2.nodes.Const(""), name, [], [], None, None)])
                 .set_lineno(node.lineno).set_environment(self.env) for name in MARKS]
        body = [child for part in node.body for child in _as_list(self.visit(part))]
        return [marks[0], *body, marks[1]]

    def _buffered(self, node: jinja2.nodes.Node) -> jinja2.nodes.Node:
        self.buffered += sum(map(_is_generation, node.find_all(jinja2.nodes.CallBlock)))
        return node

    visit_Macro = visit_FilterBlock = visit_AssignBlock = _buffered

    def visit_For(self, node: jinja2.nodes.For) -> jinja2.nodes.Node:
        return self._buffered(node) if node.recursive else self.generic_visit(node)


def _is_generation(node: jinja2.nodes.CallBlock) -> bool:
    call = node.call
    return isinstance(call, jinja2.nodes.Call) and isinstance(call.node, jinja2.nodes.ExtensionAttribute) \
        and call.node.identifier == _Generation.identifier


def _as_list(visited: Any) -> list[Any]:
    return visited if isinstance(visited, list) else [visited]


def marks_stream(source: str) -> bool:
    """Whether every `{% generation %}` mark of `source` writes where the text stands as it runs;
    False when one is inside a macro, a `{% call %}`, a `{% filter %}`, a block `{% set %}` or a
    recursive loop, whose output is buffered and placed later: the span it records would not be
    where its text lands, so the registry derives such a template's spans instead (templating/spans.py)."""
    env = environment()
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError:
        return True  # (compiling it says what is wrong)
    streamed = _Streamed(env)
    streamed.visit(tree)
    return streamed.buffered == 0


def _raise_exception(message: str) -> None:
    raise TemplateError(message)


def _tojson(value: Any, ensure_ascii: bool = False, indent: int | None = None, separators: Any = None,
            sort_keys: bool = False) -> str:
    return json.dumps(value, ensure_ascii=ensure_ascii, indent=indent, separators=separators, sort_keys=sort_keys)


def _check_time() -> None:
    if time.monotonic() > _deadline.get():
        raise _Limit(f"the template rendered for more than {RENDER_SECONDS:g} s (an endless loop?)")


class _Limit(SecurityError):
    """Inside Jinja: a limit was passed (turned into `TemplateLimit` when the render ends)."""


class _Range(Sequence[int]):
    """`range` as the sandbox allows it, looking at the clock while it is iterated."""

    def __init__(self, *args: int) -> None:
        self._items = safe_range(*args)

    def __len__(self) -> int:
        return len(self._items)

    def __getitem__(self, index: Any) -> Any:
        return self._items[index]

    def __iter__(self) -> Iterator[int]:
        for n, item in enumerate(self._items):
            if n % 1024 == 0:
                _check_time()
            yield item


class _Environment(ImmutableSandboxedEnvironment):
    """The sandbox, with `*` and `**` refused where their result would be huge."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "*" and isinstance(right, (str, list, tuple)):
            left, right = right, left
        if operator == "*" and isinstance(left, (str, list, tuple)) and isinstance(right, int) \
                and len(left) * right > MAX_CHARS:
            raise _Limit(f"the template repeats a value {right:,} times ({len(left) * right:,} items, "
                         f"more than {MAX_CHARS:,})")
        if operator == "**" and isinstance(left, int) and isinstance(right, int) and abs(left) > 1 \
                and right > 4096:
            raise _Limit(f"the template raises {left} to the power {right:,}")
        return super().call_binop(context, operator, left, right)


@lru_cache(maxsize=1)
def environment() -> ImmutableSandboxedEnvironment:
    env = _Environment(trim_blocks=True, lstrip_blocks=True, extensions=[_Generation, jinja2.ext.loopcontrols])
    env.globals["range"] = _Range
    env.filters["tojson"] = _tojson
    env.filters.update(zip(MARKS, (_open, _close)))
    env.globals["raise_exception"] = _raise_exception
    env.globals["strftime_now"] = lambda fmt: datetime.now().strftime(fmt)
    return env


# Tags that load another template: a chat template is one text (transformers has no loader either).
_LOADS = {jinja2.nodes.Include: "include", jinja2.nodes.Import: "import", jinja2.nodes.FromImport: "from ... import",
          jinja2.nodes.Extends: "extends"}


@lru_cache(maxsize=256)
def compile_template(source: str) -> jinja2.Template:
    """Compile once per distinct source text; TemplateError for a syntax error or a tag that
    loads another template."""
    env = environment()
    try:
        tree = env.parse(source)
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(f"template syntax error at line {exc.lineno}: {exc.message}") from None
    for node in tree.find_all(tuple(_LOADS)):
        raise TemplateError(f"template line {node.lineno}: {{% {_LOADS[type(node)]} %}} loads another template; a "
                            "chat template must be one self-contained text (copy the macro or text in)")
    return env.from_string(_Streamed(env).visit(tree))


def render_with_spans(template: jinja2.Template, **variables: Any) -> tuple[str, list[tuple[int, int]]]:
    """Render; return the text and the spans `{% generation %}` blocks produced (adjacent ones merged)."""
    blocks: list[str] = []
    spans: list[tuple[int, int]] = []
    tracker = [spans, 0, []]  # what `{% generation %}` reads: the text's length so far, where open blocks start
    size = 0
    clock, deadline = time.monotonic, time.monotonic() + RENDER_SECONDS
    token = _deadline.set(deadline)  # (for loops: _Range checks it each round)
    try:
        # (what `template.generate` runs, without its wrapping generator: one frame less to resume per block)
        for block in template.root_render_func(template.new_context({"__spans__": tracker, **variables})):
            blocks.append(block)
            size += len(block)
            tracker[1] = size
            if size > MAX_CHARS:
                raise _Limit(f"the template wrote more than {MAX_CHARS:,} characters for one conversation")
            if clock() > deadline:
                _check_time()
    except _Limit as exc:
        raise TemplateLimit(str(exc)) from None
    except jinja2.TemplateError as exc:
        raise TemplateError(str(exc)) from None
    except RecursionError:
        raise TemplateLimit("the template calls itself without end (a recursive macro)") from None
    except TemplateError:  # raise_exception: the template's own refusal, as it says it
        raise
    except (TypeError, ValueError, AttributeError, KeyError, IndexError, ArithmeticError) as exc:
        # what Python raises inside a template that meets a value it cannot handle (None + "text")
        raise TemplateError(f"the template failed: {type(exc).__name__}: {exc}") from None
    finally:
        _deadline.reset(token)
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if end == start:
            continue
        if merged and merged[-1][1] == start:
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return "".join(blocks), merged


def tools_of(messages: Any, tools: Any = None) -> list[Any] | None:
    """The tools to render: `tools` when given, else a `Conversation`'s own row `tools`; JSON
    text (as datasets often store them) is decoded. None when there are none."""
    if tools is None and isinstance(messages, Conversation):
        tools = messages.metadata.get("tools")
    if isinstance(tools, str):
        try:
            tools = loads_text(tools)
        except ValueError:
            raise TemplateError(f"tools is text that is not JSON: {tools[:60]!r}") from None
    return tools or None

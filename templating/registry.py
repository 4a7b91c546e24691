"""The template registry: name → `TemplateSpec` (metadata + Jinja files), compiled on first use.

Each built-in ships two package resources: `NAME.jinja`, the model's official template (the
parity oracle), and `NAME_training.jinja`, the same template with `{% generation %}` markers
(where TRL ships none, the official text serves: its own marks, or spans derived by rendering).
`ChatTemplate.render` renders the training variant, so text and assistant spans come from one
pass; property tests keep its text byte-identical to the official one.
"""

from __future__ import annotations

import difflib
from collections.abc import Sequence
from functools import cached_property
from importlib.resources import files
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from templating.environment import (TemplateError, TemplateLimit, compile_template, marks_stream, render_with_spans,
                                    tools_of)
from templating.spans import derived_spans, is_marked
from templating.builtins import BUILTINS
from templating._turns import render as render_layout
from templating.fast import layout_of, plain_turns, render_turns
from templating.spec import Rendered, TemplateSpec
from templating.tokens import Tokenized, tokenize_rendered
from validation.checks.rules import TemplateRules
from validation.errors import UnknownName
from validation.models import ROLES, Conversation, Message


def _resource(name: str) -> str:
    return files("templating").joinpath("templates", name).read_text(encoding="utf-8")


def plain_messages(messages: Any) -> list[dict[str, Any]] | None:
    """A list of dicts that each hold a known role and a string content, nothing else, as validation
    and `Message.to_dict` would hand them to a template (the same dicts, keys in the same order),
    without building the models (~0.5 instead of ~12 µs a conversation); None for anything else."""
    if type(messages) is not list:
        return None
    plain = []
    for m in messages:
        if type(m) is not dict or len(m) != 2:
            return None
        role, content = m.get("role"), m.get("content")
        if type(role) is not str or role not in ROLES or type(content) is not str:
            return None
        plain.append({"role": role, "content": content})
    return plain


def field_dicts(conversation: Conversation) -> list[dict[str, Any]] | None:
    """A `Conversation` without tools or extra message fields as the dicts its messages hold (a
    pydantic model's `__dict__` is its fields: role, content, and name, tool_calls and tool_call_id,
    which the C renderer takes only when None), so that rows read by the CLI render in C too; None
    for one with tools or extra fields."""
    if tools_of(conversation) is not None:
        return None
    dicts = []
    for m in conversation.messages:
        if m.__pydantic_extra__:
            return None
        dicts.append(m.__dict__)
    return dicts


class ChatTemplate:
    """A compiled template: `render` gives text + assistant spans; `jinja` is installable in HF."""

    def __init__(self, spec: TemplateSpec) -> None:
        self.spec = spec
        # Built-ins with a plain turn structure render without Jinja (same text and spans): lists of plain dicts in C
        # (templating/_turns.c reads the layout), other messages in Python (templating/fast.py).
        self._layout = layout_of(spec)
        self._fast = self._layout is not None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def _files(self) -> str:
        return self.spec.jinja_name or self.spec.name

    @cached_property
    def rules(self) -> TemplateRules:
        """What validation checks with this template: special tokens, roles, alternation, tools and
        reasoning support, and its render and audit hooks (`validate(..., template=t)` reads it)."""
        from templating.rules import rules_of

        return rules_of(self)

    @cached_property
    def official_jinja(self) -> str:
        """The model's own template text (what inference uses)."""
        return self.spec.official if self.spec.official is not None else _resource(f"{self._files}.jinja")

    @cached_property
    def jinja(self) -> str:
        """The template with `{% generation %}` markers: `tokenizer.chat_template = t.jinja`. A
        built-in without a training variant trains its official text: the marks its authors wrote
        (lfm2.5) or, without marks, spans derived by rendering (gemma4; templating/spans.py)."""
        if self.spec.training is not None:
            return self.spec.training
        try:
            return _resource(f"{self._files}_training.jinja")
        except FileNotFoundError:
            return self.official_jinja

    def _variables(self, messages: Any, add_generation_prompt: bool, tools: Any = None) -> dict[str, Any]:
        return {**self.spec.variables, "messages": self._messages(messages),
                "add_generation_prompt": add_generation_prompt, "tools": tools_of(messages, tools),
                "bos_token": self.spec.bos_token, "eos_token": self.spec.eos_token}

    def _messages(self, messages: Any) -> list[dict[str, Any]]:
        """The messages as the template reads them: validated (`Message`), as plain dicts."""
        plain = plain_messages(messages)
        if plain is not None:
            return plain
        try:
            conversation = Conversation.of(messages)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
            raise TemplateError(f"template {self.name}: {where}: {first['msg']} (got {first['input']!r:.80})") from None
        bare = next((i for i, m in enumerate(conversation.messages) if m.content is None and not m.tool_calls), None)
        if bare is not None:
            raise TemplateError(f"template {self.name}: messages[{bare}].content: null, and the turn calls no tool: "
                                "only a turn with tool_calls may have no text")
        return [m.to_dict() for m in conversation.messages]

    def render(self, messages: Conversation | Sequence[Message] | Sequence[dict[str, Any]], *,
               add_generation_prompt: bool = False, tools: Any = None) -> Rendered:
        """Render `messages`; raises `TemplateError` where the official template refuses.
        `tools`: the tool definitions the template prints (as `apply_chat_template(tools=...)`
        takes them); a `Conversation` brings its own row's `tools` when none are given.

        Example:
            >>> r = get_template("chatml").render([{"role": "user", "content": "Hi"},
            ...                                    {"role": "assistant", "content": "Hello"}])
            >>> r.text[r.assistant_spans[0][0]:r.assistant_spans[0][1]]
            'Hello<|im_end|>\\n'
        """
        if tools is None:  # a list of plain dicts under a turn layout: in C (templating/_turns.c), else None
            fast = render_layout(messages, self._layout, add_generation_prompt)
            if fast is None and self._fast and type(messages) is Conversation:  # (rows the CLI read: their fields)
                fields = field_dicts(messages)
                fast = None if fields is None else render_layout(fields, self._layout, add_generation_prompt)
            if fast is not None:
                return fast
        if not messages:
            raise TemplateError(f"template {self.name}: nothing to render (no messages)")
        if self._fast and tools_of(messages, tools) is None:
            turns = plain_turns(messages.messages if isinstance(messages, Conversation) else messages)
            fast = render_turns(self.spec, turns, add_generation_prompt) if turns is not None else None
            if fast is not None:
                return Rendered(*fast)
        return self.render_jinja(messages, add_generation_prompt=add_generation_prompt, tools=tools)

    def render_jinja(self, messages: Any, *, add_generation_prompt: bool = False, tools: Any = None) -> Rendered:
        """Render with the Jinja training template (the reference the fast path is tested against)."""
        variables = self._variables(messages, add_generation_prompt, tools)
        compiled = compile_template(self.jinja)
        try:
            text, spans = render_with_spans(compiled, **variables)
            if not self.marked:  # a model's own template, a file: the spans derived by rendering (templating/spans.py)
                spans = derived_spans(lambda prefix, prompt: render_with_spans(
                    compiled, **{**variables, "messages": prefix, "add_generation_prompt": prompt})[0],
                    variables["messages"], text, self.name, prompted=add_generation_prompt)
        except TemplateLimit as exc:
            raise TemplateLimit(f"template {self.name}: {exc}") from None
        except TemplateError as exc:
            raise self._null_content(exc, variables["messages"]) from None
        return Rendered(text, spans)

    @cached_property
    def marked(self) -> bool:
        """Whether the training text marks its spans (`{% generation %}`) where its text streams;
        else they are derived (a mark in a macro or a filter block records a span its text is not at)."""
        return is_marked(self.jinja) and marks_stream(self.jinja)

    def render_official(self, messages: Any, *, add_generation_prompt: bool = False, tools: Any = None) -> str:
        """Render with the official template text (no spans): the parity reference."""
        variables = self._variables(messages, add_generation_prompt, tools)
        try:
            text, _ = render_with_spans(compile_template(self.official_jinja), **variables)
        except TemplateLimit:
            raise
        except TemplateError as exc:
            raise self._null_content(exc, variables["messages"]) from None
        return text

    def _null_content(self, error: TemplateError, messages: list[dict[str, Any]]) -> TemplateError:
        """`error`, saying so when the render met a null content beside tool calls (which many
        official templates cannot render either: they refuse, and so do we)."""
        found = next((i for i, m in enumerate(messages) if m.get("content") is None), None)
        if found is None or isinstance(error, TemplateLimit):
            return error
        return TemplateError(f"template {self.name}: messages[{found}].content is null beside tool_calls, which this "
                             f"template cannot render (the official one fails too: {error}); give it \"\" as content")

    def __repr__(self) -> str:
        return f"ChatTemplate({self.name!r})"


_TEMPLATES: dict[str, TemplateSpec] = {}
_ALIASES: dict[str, str] = {}
_COMPILED: dict[str, ChatTemplate] = {}


def _add(spec: TemplateSpec) -> None:
    _TEMPLATES[spec.name] = spec
    for alias in spec.aliases:
        _ALIASES[alias] = spec.name
    _COMPILED.pop(spec.name, None)


def register_template(name: str, jinja: str | Path, *, special_tokens: Sequence[str], end_of_turn: str,
                      generation_prompt: str, training_jinja: str | Path | None = None,
                      replace: bool = False, **metadata: Any) -> ChatTemplate:
    """Add a user template (Jinja text or a file) with its metadata; returns it compiled.

    `training_jinja` is the same template with `{% generation %}` markers; without it the spans
    are derived by rendering prefixes (templating/spans.py; refused where the template is not
    prefix-preserving). User templates render in the sandbox.
    """
    if name in _TEMPLATES or name in _ALIASES:
        if not replace:
            raise ValueError(f"template {name!r} exists; pass replace=True to override it")
    official = Path(jinja).read_text(encoding="utf-8") if isinstance(jinja, Path) else jinja
    training = Path(training_jinja).read_text(encoding="utf-8") if isinstance(training_jinja, Path) \
        else training_jinja
    compile_template(official)
    if training is not None:
        compile_template(training)
    _add(TemplateSpec(name=name, special_tokens=tuple(special_tokens), end_of_turn=end_of_turn,
                      generation_prompt=generation_prompt, official=official,
                      training=training if training is not None else official, **metadata))
    return get_template(name)


def unregister_template(name: str) -> TemplateSpec:
    """Remove a registered template (and its aliases); returns its spec. Built-ins stay.

    Raises:
        UnknownName: no template of that name.
        ValueError: `name` is a built-in.
    """
    canonical = resolve(name)
    if any(spec.name == canonical for spec in BUILTINS) and _TEMPLATES[canonical] in BUILTINS:
        raise ValueError(f"template {canonical!r} is built in; it cannot be unregistered")
    spec = _TEMPLATES.pop(canonical)
    for alias in [a for a, target in _ALIASES.items() if target == canonical]:
        del _ALIASES[alias]
    _COMPILED.pop(canonical, None)
    return spec


def resolve(name: str) -> str:
    """The canonical name for `name` or an alias; KeyError with suggestions otherwise."""
    if name in _TEMPLATES:
        return name
    if name in _ALIASES:
        return _ALIASES[name]
    close = difflib.get_close_matches(name, [*_TEMPLATES, *_ALIASES], n=1)
    if close:
        raise UnknownName(f"unknown template {name!r}; did you mean {close[0]!r}?")
    raise UnknownName.among("template", name, _TEMPLATES)  # the names, not every alias


def get_template(name: str) -> ChatTemplate:
    """The template called `name` (or an alias of it), compiled once."""
    canonical = resolve(name)
    if canonical not in _COMPILED:
        _COMPILED[canonical] = ChatTemplate(_TEMPLATES[canonical])
    return _COMPILED[canonical]


def template_of_tokenizer(tokenizer: Any, name: str = "own") -> ChatTemplate:
    """A tokenizer's own `chat_template` as a (not registered) template: renders in the sandbox
    with the tokenizer's BOS/EOS; spans only where it carries `{% generation %}` markers."""
    text = getattr(tokenizer, "chat_template", None)
    if not isinstance(text, str) or not text:
        raise UnknownName(f"{name}: the tokenizer has no chat template; name one with --template")
    compile_template(text)
    eos = getattr(tokenizer, "eos_token", None) or ""
    specials = tuple(t for t in getattr(tokenizer, "all_special_tokens", ()) if t)
    return ChatTemplate(TemplateSpec(name=name, special_tokens=specials, end_of_turn=eos, generation_prompt="",
                                     bos_token=getattr(tokenizer, "bos_token", None) or "", eos_token=eos,
                                     official=text, training=text, source="the tokenizer's chat_template"))


for _builtin in BUILTINS:
    _add(_builtin)


def list_templates() -> list[TemplateSpec]:
    """Every registered template's spec, sorted by name."""
    return [_TEMPLATES[name] for name in sorted(_TEMPLATES)]


def _template(template: str | ChatTemplate) -> ChatTemplate:
    """`template` as it is, or the registry's template of that name."""
    return template if isinstance(template, ChatTemplate) else get_template(template)


def render_tokens(messages: Any, tokenizer: Any, template: str | ChatTemplate = "smollm2", *,
                  add_generation_prompt: bool = False) -> Tokenized:
    """Render `messages` with `template` and tokenize; the mask marks exactly the spans' tokens.

    Example:
        >>> from templating.embedded import load_tokenizer
        >>> t = render_tokens([{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}],
        ...                   load_tokenizer())
        >>> sum(t.assistant_mask)  # 'Hello', '<|im_end|>', '\\n'
        3
    """
    return render_tokens_batch([messages], tokenizer, template, add_generation_prompt=add_generation_prompt)[0]


def render_tokens_batch(conversations: Sequence[Any], tokenizer: Any, template: str | ChatTemplate = "smollm2",
                        *, add_generation_prompt: bool = False) -> list[Tokenized]:
    """`render_tokens` for many conversations in one batched (multi-threaded) tokenizer call."""
    chat = _template(template)
    return tokenize_rendered([chat.render(c, add_generation_prompt=add_generation_prompt) for c in conversations],
                             tokenizer)


__all__ = ["ChatTemplate", "get_template", "list_templates", "register_template", "resolve", "template_of_tokenizer",
           "render_tokens", "render_tokens_batch", "tools_of", "unregister_template"]

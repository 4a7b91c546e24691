"""What a template can render of tool-calling conversations and of reasoning, probed from the
template itself.

Each capability is found by rendering a small probe conversation with the template's official
text (what inference uses) and reading the result: nothing is declared by hand, so a template a
user registers is probed the same way as the built-ins.

- `tools`: the declared tools reach the text (their JSON schema is printed);
- `tool_calls`: an assistant call's name and arguments reach the text;
- `parallel_calls`: two calls in one turn render (some templates raise for more than one);
- `arguments`: which forms of `function.arguments` render right — an object may come out as a
  Python repr, and a JSON string double-encoded (`"{\\"city\\"...`) or unlike the object's text;
- `null_content`: an assistant call with `content: null` renders without the text "None".
"""

from __future__ import annotations

import json
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import jinja2

from templating.environment import compile_template, render_with_spans
from templating.errors import TemplateError
from validation.checks.reasoning import CLOSE, OPEN, REASONING_FIELDS, ReasoningSupport
from validation.checks.rules import PartSupport, ToolSupport
from validation.content import as_parts

if TYPE_CHECKING:
    from templating.registry import ChatTemplate

_NAME, _ARG, _VALUE = "probe_lookup", "probe_key", "probe-value-7"
_TOOL = {"type": "function", "function": {"name": _NAME, "description": "probe",
                                          "parameters": {"type": "object", "properties": {_ARG: {"type": "string"}}}}}


Capabilities = ToolSupport  # the contract validation checks rows against (validation/checks/rules.py)


def _call(name: str, arguments: Any) -> dict[str, Any]:
    # an id of 9 letters and digits: the form every template takes (mistral-common refuses others)
    return {"id": "probe0001", "type": "function", "function": {"name": name, "arguments": arguments}}


def _render(template: ChatTemplate, messages: list[dict[str, Any]], tools: Any = None) -> str | None:
    spec = template.spec
    try:
        text, _ = render_with_spans(compile_template(template.official_jinja), **spec.variables, messages=messages,
                                    add_generation_prompt=False, bos_token=spec.bos_token, eos_token=spec.eos_token,
                                    tools=tools)
    except (TemplateError, jinja2.TemplateError, TypeError, ValueError, KeyError, AttributeError):
        return None  # the template refuses (raise_exception) or breaks on this shape
    return text


def _asking(*calls: dict[str, Any], content: Any = "") -> list[dict[str, Any]]:
    return [{"role": "user", "content": "probe question"}, {"role": "assistant", "content": content,
                                                             "tool_calls": list(calls)},
            {"role": "tool", "tool_call_id": "probe0001", "name": _NAME, "content": "probe result"},
            {"role": "assistant", "content": "probe answer"}]


def _holds_object(text: str | None) -> bool:
    """Does the text hold the probe arguments as JSON (not a repr, not double-encoded)?"""
    return text is not None and any(f'"{_ARG}"{sep}"{_VALUE}"' in text for sep in (": ", ":"))


def _argument_forms(as_object: str | None, as_string: str | None) -> tuple[str, ...]:
    """The forms of `function.arguments` the template renders right. An object (the documented form)
    is right where its value reaches the text and it is neither a Python repr nor double-encoded,
    in whatever syntax the template writes calls (JSON, XML parameters, Python calls); a JSON
    string is right where it renders as the object does, or, where an object fails, as JSON."""
    as_repr, doubled = f"'{_ARG}'", f'\\"{_ARG}\\"'
    good = as_object is not None and _VALUE in as_object and as_repr not in as_object and doubled not in as_object
    return tuple(form for form, ok in (("object", good),
                                       ("string", as_string == as_object if good else _holds_object(as_string)))
                 if ok)


@lru_cache(maxsize=64)
def _probe(template: ChatTemplate) -> Capabilities:
    plain = _render(template, [{"role": "user", "content": "probe question"}], tools=[_TOOL])
    tools = plain is not None and _NAME in plain  # only the printed tool list names it
    as_object = _render(template, _asking(_call(_NAME, {_ARG: _VALUE})), tools=[_TOOL])
    as_string = _render(template, _asking(_call(_NAME, json.dumps({_ARG: _VALUE}))), tools=[_TOOL])
    calls = any(t is not None and _NAME in t and _VALUE in t for t in (as_object, as_string))
    arguments = _argument_forms(as_object, as_string)
    second = {**_call("probe_other", {_ARG: _VALUE}), "id": "probe0002"}
    parallel = _render(template, _asking(_call(_NAME, {_ARG: _VALUE}), second), tools=[_TOOL])
    null = _render(template, _asking(_call(_NAME, {_ARG: _VALUE}), content=None), tools=[_TOOL])
    return Capabilities(tools=tools, tool_calls=calls,
                        parallel_calls=calls and parallel is not None and "probe_other" in parallel,
                        arguments=arguments if calls else (),
                        null_content=calls and null is not None and "None" not in null)


def capabilities(template: ChatTemplate) -> Capabilities:
    """The template's `Capabilities` (probed once per template)."""
    return _probe(template)


_PART_ROLES = ("system", "user", "assistant")
_IMAGES = {"image": {"type": "image"}, "image_url": {"type": "image_url", "image_url": {"url": "probe.png"}}}


def _parts_of(role: str) -> list[dict[str, str]]:
    return [{"type": "text", "text": f"probe-{role}-1 "}, {"type": "text", "text": f"probe-{role}-2"}]


@lru_cache(maxsize=64)
def part_support(template: ChatTemplate) -> PartSupport:
    """What the template renders of content parts, role by role: text parts must reach the text,
    and no list be written as Python or JSON text (official templates that take no parts fail,
    print the list, or drop the text; some take them in some roles only); an image part, of each
    type, must leave something in the user's turn where it stands; and a string content must reach
    the text (SmolVLM's and Idefics3's read parts only: a string's characters are iterated, dropped)."""
    roles = [r for r in _PART_ROLES if r != "system" or template.spec.supports_system]
    plain = _render(template, [{"role": r, "content": f"probe-{r}-text"} for r in roles])

    def other(r: str) -> Any:  # another role's content: a string, or one text part where strings fail (llava-next)
        return f"probe-{r}" if plain is not None else [{"type": "text", "text": f"probe-{r}"}]
    takes, single, refused = [], [], []
    for role in roles:
        messages = [{"role": r, "content": _parts_of(r) if r == role else other(r)} for r in roles]
        text = _render(template, messages)
        if text is None:
            refused.append((role, "it fails on a list of parts"))
        elif "'type'" in text or '"type"' in text:
            refused.append((role, "it writes the list of parts as text"))
        elif f"probe-{role}-1" not in text or f"probe-{role}-2" not in text:
            one = _render(template, [{"role": r, "content": _parts_of(r)[:1] if r == role else other(r)}
                                     for r in roles])
            if f"probe-{role}-2" not in (text or "") and one is not None and f"probe-{role}-1" in one:
                single.append(role)  # (llava-next: a reply's first text part only)
            refused.append((role, "it writes the first text part only" if role in single else
                            "it drops the text of the parts"))
        else:
            takes.append(role)
    # a role needs parts where they render and a string does not (a role whose text renders neither way is
    # the template's own business: nothing to say about strings there)
    strings = tuple(r for r in _PART_ROLES if r not in takes + single
                    or (plain is not None and f"probe-{r}-text" in plain))
    if "user" not in takes:
        return PartSupport(tuple(takes), (), tuple(refused), strings, tuple(single))
    reply = {"role": "assistant", "content": other("assistant")}
    without = _render(template, [{"role": "user", "content": [{"type": "text", "text": "probe-b"}]}, reply])

    def writes(part: dict[str, Any]) -> bool:
        image = _render(template, [{"role": "user", "content": [part, {"type": "text", "text": "probe-b"}]}, reply])
        return image is not None and "'type'" not in image and '"type"' not in image and "probe-b" in image \
            and image != without
    return PartSupport(tuple(takes), tuple(kind for kind, part in _IMAGES.items() if writes(part)), tuple(refused),
                       strings, tuple(single))


def _as_read(template: ChatTemplate, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Probe messages as the template reads them: as text parts where it reads parts only."""
    return as_parts(messages, part_support(template).needs_parts)


_THOUGHT = "probe-thought-7"


@lru_cache(maxsize=64)
def reasoning_support(template: ChatTemplate) -> ReasoningSupport:
    """What the template trains of reasoning (validation/checks/reasoning.py), probed from its training
    variant's text and spans: which message field it prints, whether it trains an empty think
    block in a reply without reasoning, and for which replies its span starts inside the
    generation prompt, holding one of its think tags."""
    question = {"role": "user", "content": "probe question"}

    def trained(reply: dict[str, Any]) -> tuple[str, str, int] | None:  # (text, trained text, span start)
        try:
            rendered = template.render(_as_read(template, [question, reply]))
        except (TemplateError, jinja2.TemplateError, TypeError, ValueError):
            return None
        spans = rendered.assistant_spans
        return (rendered.text, "".join(rendered.text[a:b] for a, b in spans), spans[0][0]) if spans else None

    field = next((name for name in REASONING_FIELDS
                  if (got := trained({"role": "assistant", "content": "probe answer", name: _THOUGHT}))
                  and _THOUGHT in got[1]), None)
    plain = trained({"role": "assistant", "content": "probe answer"})
    opened = trained({"role": "assistant", "content": f"{OPEN}\n{_THOUGHT}\n{CLOSE}\n\nprobe answer"})
    try:
        prompt = template.render(_as_read(template, [question]), add_generation_prompt=True).text
    except (TemplateError, jinja2.TemplateError, TypeError, ValueError):
        prompt = ""
    # a think tag of the prompt in the span (qwen2.5's span holds the prompt's last newline: not counted)
    kinds = tuple(kind for kind, got in (("reasoning", opened), ("plain", plain))
                  if got and prompt and got[0].startswith(prompt) and OPEN in prompt[got[2]:])
    # a reply with reasoning and another exchange after it: is its reasoning still trained?
    thinking = {"role": "assistant", "content": "probe answer", field: _THOUGHT} if field else \
        {"role": "assistant", "content": f"{OPEN}\n{_THOUGHT}\n{CLOSE}\n\nprobe answer"}
    try:
        later = template.render(_as_read(template, [question, thinking, question,
                                                    {"role": "assistant", "content": "probe answer"}]))
        spans = later.assistant_spans
        history = not spans or _THOUGHT in later.text[spans[0][0]:spans[0][1]]
    except (TemplateError, jinja2.TemplateError, TypeError, ValueError):
        history = True
    return ReasoningSupport(field=field, empty_block=plain is not None and OPEN in plain[1] and CLOSE in plain[1],
                            prompt_trained=kinds, history=history)

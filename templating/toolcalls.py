"""Tool calls read back out of an assistant reply in a template's call syntax (what a model
generates, or an assistant span of a render): the inverse of how the template writes calls.

- `qwen`: one `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` block per call
  (qwen2.5), any text before the first block being the reply's content;
- `llama-json`: the whole reply is `{"name": ..., "parameters": {...}}`, one call (Llama 3.1/3.2).

`TemplateSpec.call_syntax` names a template's syntax; `parse_tool_calls(reply, template)` gives
(content, calls) with calls in the canonical `{"type": "function", "function": {"name",
"arguments"}}` shape, arguments as the object the text holds.
"""

from __future__ import annotations

import re
from typing import Any

from templating.environment import TemplateError
from templating.registry import get_template
from validation.readers.decode import loads_text
from validation.checks.tools import arguments_of

_QWEN = re.compile(r"\n?<tool_call>\n(.*?)\n</tool_call>", re.DOTALL)


def _call(name: Any, arguments: Any, where: str) -> dict[str, Any]:
    # double-encoded (a template given arguments as text) reads as the object inside
    arguments = arguments_of(arguments)[0] if isinstance(arguments, str) else arguments
    if not isinstance(name, str) or not isinstance(arguments, dict):
        raise TemplateError(f"{where}: a call needs a string name and an object of arguments")
    return {"type": "function", "function": {"name": name, "arguments": arguments}}


def _json(text: str, where: str) -> Any:
    try:
        return loads_text(text)
    except ValueError as exc:
        raise TemplateError(f"{where}: not JSON ({exc})") from None


def _qwen(reply: str) -> tuple[str, list[dict[str, Any]]]:
    matches = list(_QWEN.finditer(reply))
    if not matches:
        return reply, []
    calls = []
    for k, match in enumerate(matches):
        value = _json(match.group(1), f"<tool_call> {k + 1}")
        if not isinstance(value, dict):
            raise TemplateError(f"<tool_call> {k + 1}: expected an object")
        calls.append(_call(value.get("name"), value.get("arguments"), f"<tool_call> {k + 1}"))
    content = reply[:matches[0].start()]
    content = content[1:] if content.startswith("\n") else content  # the template's "\n" before the content
    return content, calls


def _llama_json(reply: str) -> tuple[str, list[dict[str, Any]]]:
    text = reply.strip()
    if not (text.startswith("{") and '"name"' in text):
        return reply, []
    value = _json(text, "the reply")
    if not isinstance(value, dict) or "parameters" not in value:
        return reply, []  # a JSON reply that is not a call
    return "", [_call(value.get("name"), value.get("parameters"), "the reply")]


SYNTAXES = {"qwen": _qwen, "llama-json": _llama_json}


def parse_tool_calls(reply: str, template: str) -> tuple[str, list[dict[str, Any]]]:
    """(the reply's text, its calls) in `template`'s call syntax; (reply, []) for a plain reply.

    Raises:
        TemplateError: the template has no call syntax, or a call in the reply is malformed.

    Example:
        >>> parse_tool_calls('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>', "qwen2.5")[1]
        [{'type': 'function', 'function': {'name': 'f', 'arguments': {'x': 1}}}]
    """
    spec = get_template(template).spec
    if spec.call_syntax is None:
        raise TemplateError(f"template {spec.name} has no tool-call syntax to parse")
    return SYNTAXES[spec.call_syntax](reply)

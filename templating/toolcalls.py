"""Tool calls read back out of an assistant reply in a template's call syntax (what a model
generates, or an assistant span of a render): the inverse of how the template writes calls.

- `qwen`: one `<tool_call>\\n{"name": ..., "arguments": {...}}\\n</tool_call>` block per call
  (qwen2.5), any text before the first block being the reply's content;
- `llama-json`: the whole reply is `{"name": ..., "parameters": {...}}`, one call (Llama 3.1/3.2);
- `xml-parameters`: one `<tool_call>\n<function=NAME>\n<parameter=KEY>\nVALUE\n</parameter>…</function>\n</tool_call>`
  block per call (qwen3.5, qwen3.6, qwen3.8, nemotron-3): a value is written as text when it is a
  string, as JSON otherwise, so "3" and 3 look alike; it reads as JSON where it parses, except
  where the tool's schema (`tools`) types the parameter as a string.

`TemplateSpec.call_syntax` names a template's syntax (each reader takes the reply and the row's
`tools`, which only the XML one needs); `parse_tool_calls(reply, template, tools)` gives
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


def _qwen(reply: str, tools: Any = None) -> tuple[str, list[dict[str, Any]]]:
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


def _llama_json(reply: str, tools: Any = None) -> tuple[str, list[dict[str, Any]]]:
    text = reply.strip()
    if not (text.startswith("{") and '"name"' in text):
        return reply, []
    value = _json(text, "the reply")
    if not isinstance(value, dict) or "parameters" not in value:
        return reply, []  # a JSON reply that is not a call
    return "", [_call(value.get("name"), value.get("parameters"), "the reply")]


_XML_CALL = re.compile(r"<tool_call>\n<function=([^>\n]+)>\n(.*?)</function>\n</tool_call>", re.DOTALL)
_XML_PARAMETER = re.compile(r"<parameter=([^>\n]+)>\n(.*?)\n</parameter>\n", re.DOTALL)


def _xml_parameters(reply: str, tools: Any = None) -> tuple[str, list[dict[str, Any]]]:
    matches = list(_XML_CALL.finditer(reply))
    if not matches:
        return reply, []
    strings = {(t["function"]["name"], key) for t in tools or () if isinstance(t, dict) and "function" in t
               for key, schema in t["function"].get("parameters", {}).get("properties", {}).items()
               if isinstance(schema, dict) and schema.get("type") == "string"}
    calls = []
    for match in matches:
        name, arguments = match.group(1), {}
        for parameter in _XML_PARAMETER.finditer(match.group(2)):
            key, text = parameter.group(1), parameter.group(2)
            try:
                arguments[key] = text if (name, key) in strings else loads_text(text)
            except ValueError:
                arguments[key] = text  # a string: the template writes it as it is
        calls.append(_call(name, arguments, f"<tool_call> {len(calls) + 1}"))
    return reply[:matches[0].start()].rstrip("\n"), calls


SYNTAXES = {"qwen": _qwen, "llama-json": _llama_json, "xml-parameters": _xml_parameters}


def parse_tool_calls(reply: str, template: str, tools: Any = None) -> tuple[str, list[dict[str, Any]]]:
    """(the reply's text, its calls) in `template`'s call syntax; (reply, []) for a plain reply.
    `tools`: the row's tool definitions, where the syntax needs their schemas to read a value.

    Raises:
        TemplateError: the template has no call syntax, or a call in the reply is malformed.

    Example:
        >>> parse_tool_calls('<tool_call>\\n{"name": "f", "arguments": {"x": 1}}\\n</tool_call>', "qwen2.5")[1]
        [{'type': 'function', 'function': {'name': 'f', 'arguments': {'x': 1}}}]
    """
    spec = get_template(template).spec
    if spec.call_syntax is None:
        raise TemplateError(f"template {spec.name} has no tool-call syntax to parse")
    return SYNTAXES[spec.call_syntax](reply, tools)

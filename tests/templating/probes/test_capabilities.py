"""Tool capabilities probed from the template text itself (templating/probes/capabilities.py), and calls
read back out of replies (templating/toolcalls.py)."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template, register_template
from templating.probes.capabilities import Capabilities, capabilities
from templating.toolcalls import parse_tool_calls
from tests.strategies import tool_conversations

# One call per turn (raises for more), arguments printed as they are (an object comes out as a
# Python repr), content printed as it is (null becomes "None"); no tool list.
ONE_CALL = """{%- for m in messages -%}
{%- if m.tool_calls is defined and m.tool_calls -%}
{%- if m.tool_calls | length > 1 %}{{ raise_exception('one call per turn') }}{% endif -%}
<call>{{ m.content }}{{ m.tool_calls[0].function.name }} {{ m.tool_calls[0].function.arguments }}</call>
{%- else -%}<{{ m.role }}>{{ m.content }}</{{ m.role }}>{%- endif -%}
{%- endfor -%}"""


def test_qwen25_renders_tools_parallel_calls_and_object_arguments():
    assert capabilities(get_template("qwen2.5")) == Capabilities(
        tools=True, tool_calls=True, parallel_calls=True, arguments=("object",), null_content=True)


def test_a_template_without_tools_says_so():
    assert capabilities(get_template("chatml")) == Capabilities(False, False, False, (), False)
    assert capabilities(get_template("chatml")).describe() == "no tools"


def test_a_registered_template_is_probed_the_same_way():
    template = register_template("one-call", ONE_CALL, special_tokens=["<call>"], end_of_turn="</assistant>",
                                 generation_prompt="<assistant>")
    found = capabilities(template)
    assert found == Capabilities(tools=False, tool_calls=True, parallel_calls=False, arguments=("string",),
                                 null_content=False)
    assert found.describe() == ("calls without tool list, one call per turn, arguments as string, "
                                "no null content")


def test_templates_json_lists_the_capabilities(cli):
    listed = {t["name"]: t["tools"] for t in cli("templates", "--json").json()}
    assert listed["qwen2.5"] == {"tools": True, "tool_calls": True, "parallel_calls": True,
                                 "arguments": ["object"], "null_content": True}
    assert listed["smollm2"]["tool_calls"] is False


@pytest.mark.parametrize("name", ["qwen2.5", "llama3.1", "llama3.2"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_calls_read_back_from_each_rendered_assistant_turn(name, data):
    """parse(render(m)) == m for the calls: every assistant span of a render gives back its turn's
    content and calls (arguments as the objects they hold)."""
    template = get_template(name)
    support = capabilities(template)
    messages, tools = data.draw(tool_conversations(max_calls=3 if support.parallel_calls else 1))
    rendered = template.render(messages, tools=tools)
    assistants = [m for m in messages if m["role"] == "assistant"]
    for (start, end), m in zip(rendered.assistant_spans, assistants):
        reply = rendered.text[start:end].removesuffix(template.spec.end_of_turn + "\n").removesuffix(
            template.spec.end_of_turn)
        content, calls = parse_tool_calls(reply, name)
        expected = [{"type": "function", "function": {"name": c["function"]["name"], "arguments": (
            json.loads(c["function"]["arguments"]) if isinstance(c["function"]["arguments"], str)
            else c["function"]["arguments"])}} for c in m.get("tool_calls", ())]
        assert calls == expected  # double-encoded text arguments read back as the object inside too
        if not m.get("tool_calls"):
            assert content.strip() == m["content"].strip()
        elif support.parallel_calls:  # qwen keeps the text before the calls
            assert content == m["content"]


@pytest.mark.parametrize("name", ["qwen3.5", "nemotron-3-nano"])
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_xml_parameter_calls_read_back_with_the_tools_schemas(name, data):
    """qwen3.5's and nemotron-3's calls (`<function=NAME><parameter=KEY>VALUE`) read back as the
    calls rendered: a string parameter as text (the schema says so, "3" and 3 being written alike),
    any other value as the JSON it is written as."""
    template = get_template(name)
    messages, tools = data.draw(tool_conversations(max_calls=3, forms=("object",)))
    rendered = template.render(messages, tools=tools)
    assistants = [m for m in messages if m["role"] == "assistant"]
    for (start, end), m in zip(rendered.assistant_spans, assistants):
        content, calls = parse_tool_calls(rendered.text[start:end].removesuffix("<|im_end|>\n"), name, tools)
        assert calls == [{"type": "function", "function": {"name": c["function"]["name"],
                                                           "arguments": c["function"]["arguments"]}}
                         for c in m.get("tool_calls", ())]
        if m.get("tool_calls") and m["content"].strip():
            assert content.endswith(m["content"].strip())


def test_a_plain_reply_has_no_calls_and_a_broken_call_is_named():
    assert parse_tool_calls("Sunny, 3°C.", "qwen2.5") == ("Sunny, 3°C.", [])
    assert parse_tool_calls('{"answer": 3}', "llama3.1") == ('{"answer": 3}', [])
    with pytest.raises(TemplateError, match="<tool_call> 1: not JSON"):
        parse_tool_calls("<tool_call>\n{name: f}\n</tool_call>", "qwen2.5")
    with pytest.raises(TemplateError, match="chatml has no tool-call syntax"):
        parse_tool_calls("hi", "chatml")

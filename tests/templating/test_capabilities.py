"""Tool capabilities probed from the template text itself (templating/capabilities.py)."""

from __future__ import annotations

from templating import get_template, register_template
from templating.capabilities import Capabilities, capabilities

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

"""The fast renderer is the Jinja training template, only faster: same text, spans and refusals."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template
from templating.builtins import BUILTINS

FORMATS = {spec.name: spec for spec in BUILTINS if spec.turns is not None}  # the built-ins with a turn layout
from tests.strategies import any_order

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(render, messages, add_generation_prompt):
    try:
        rendered = render(messages, add_generation_prompt=add_generation_prompt)
    except TemplateError as exc:
        return ("refused", str(exc))
    return (rendered.text, rendered.assistant_spans)


@pytest.mark.parametrize("name", sorted(FORMATS))
@SETTINGS
@given(messages=any_order, add_generation_prompt=st.booleans())
def test_fast_render_equals_the_jinja_training_template_in_any_role_order(name, messages, add_generation_prompt):
    template = get_template(name)
    assert outcome(template.render, messages, add_generation_prompt) == \
        outcome(template.render_jinja, messages, add_generation_prompt)


def test_messages_with_tool_calls_take_the_jinja_path():
    messages = [{"role": "user", "content": "weather?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": "weather", "arguments": {"city": "Paris"}}}]},
                {"role": "tool", "content": "sunny"}, {"role": "assistant", "content": "Sunny."}]
    rendered = get_template("qwen2.5").render(messages)
    assert '<tool_call>\n{"name": "weather", "arguments": {"city": "Paris"}}\n</tool_call>' in rendered.text
    assert rendered == get_template("qwen2.5").render_jinja(messages)

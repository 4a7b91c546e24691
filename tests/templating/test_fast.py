"""The fast renderer is the Jinja training template, only faster: same text, spans and refusals."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template
from templating._turns import render as render_in_c
from templating.builtins import BUILTINS
from templating.fast import layout_of, plain_turns, render_turns
from templating.registry import field_dicts
from tests.strategies import any_order, content
from validation.models import Conversation

FORMATS = {spec.name: spec for spec in BUILTINS if spec.turns is not None}  # the built-ins with a turn layout

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


# --- templating/_turns.c: the plain-dict case in C, against its Python reference (fast.py) ---

LAYOUTS = sorted(name for name, spec in FORMATS.items() if layout_of(spec) is not None)
# Whitespace str.strip() removes (Unicode's too) beside text of every width: a trimmed content's
# widest character may be in the part trimmed away, and the text must still be as narrow as it reads.
SPACES = st.sampled_from(["", " ", "\n", "\t", "\u3000", "\x85", "\u2028", "\xa0", "\n\n"])
WIDE = st.text(alphabet=st.sampled_from("aé한😀\u0627 \n"), max_size=8)
# Think markers anywhere in text of every width (the C renderer looks for them 8 or 4 characters at a time).
MARKED = st.builds(lambda a, mark, b: a + mark + b, st.text(alphabet="a한😀é<>/", max_size=30),
                   st.sampled_from(["</think>", "</think", "<", "</thinking>", "<think>", ""]),
                   st.text(alphabet="a한😀é<>/", max_size=30))
edgy_content = st.one_of(content, st.builds(lambda a, b, c: a + b + c, SPACES, WIDE, SPACES), MARKED,
                         st.sampled_from(["", "\u3000한\u3000", "é ", " 😀", "\n\nreply", "</think>", "a</think>b"]))
edgy_message = st.one_of(
    st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["system", "user", "assistant"]), edgy_content),
    st.builds(lambda r, c, extra: {"role": r, "content": c, **extra}, st.sampled_from(["user", "assistant"]),
              edgy_content, st.dictionaries(st.sampled_from(["name", "tool_calls", "weight"]),
                                            st.one_of(st.none(), st.just("x")), max_size=2)),
    st.builds(lambda c: {"content": c}, edgy_content),  # no role
    st.builds(lambda r: {"role": r}, st.sampled_from(["system", "user", "assistant"])),  # no content
    st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["tool", "User", 3]),
              st.one_of(edgy_content, st.none(), st.integers())),
    st.just("not a message"))
plain_message = st.builds(lambda r, c: {"role": r, "content": c}, st.sampled_from(["system", "user", "assistant"]),
                          edgy_content)


@st.composite
def alternating(draw, min_pairs: int = 0, max_pairs: int = 3) -> list[dict]:
    """What most templates render: a system prompt or not, user/assistant pairs, a user turn last or not."""
    def say(role: str) -> dict:
        return {"role": role, "content": draw(edgy_content)}
    messages = [say("system")] if draw(st.booleans()) else []
    for _ in range(draw(st.integers(min_pairs, max_pairs))):
        messages += [say("user"), say("assistant")]
    return messages + ([say("user")] if draw(st.booleans()) or not messages else [])


# Long lists too: more messages and pieces than the C renderer holds on its stack (32 messages, 64 pieces).
edgy_messages = st.one_of(alternating(), alternating(17, 30), st.lists(plain_message, min_size=1, max_size=6),
                          st.lists(edgy_message, max_size=6), st.lists(edgy_message, min_size=30, max_size=40))


def in_python(spec, messages, add_generation_prompt):
    """The Python path, refusals as None (the C renderer leaves those to it)."""
    turns = plain_turns(messages)
    try:
        rendered = render_turns(spec, turns, add_generation_prompt) if turns is not None else None
    except TemplateError:
        return None
    return None if rendered is None else rendered


@pytest.mark.parametrize("name", LAYOUTS)
@SETTINGS
@given(messages=edgy_messages, add_generation_prompt=st.booleans())
def test_the_c_renderer_equals_the_python_fast_path(name, messages, add_generation_prompt):
    spec = FORMATS[name]
    ours = render_in_c(messages, layout_of(spec), add_generation_prompt)
    reference = in_python(spec, messages, add_generation_prompt)
    roles = [isinstance(m, dict) and m.get("role") for m in messages]
    only_a_folded_system = spec.turns.fold_system is not None and roles == ["system"]
    if reference is None or only_a_folded_system:
        assert ours is None
        return
    text, spans = reference
    assert (ours.text, ours.assistant_spans) == (text, spans)
    assert ours == get_template(name).render(messages, add_generation_prompt=add_generation_prompt)
    # as narrow as its widest character (CPython compares strings of different widths as unequal)
    assert ours.text.isascii() == text.isascii() and max(map(ord, ours.text), default=0) == \
        max(map(ord, text), default=0)


def test_the_c_renderer_trims_unicode_whitespace_and_keeps_the_text_narrow():
    messages = [{"role": "user", "content": "\u3000hi\u3000"}, {"role": "assistant", "content": " ok\u2028"}]
    rendered = get_template("gemma").render(messages)
    # every wide character was trimmed away: the text is ASCII, as str(...) of the same characters is
    assert rendered.text == "<bos><start_of_turn>user\nhi<end_of_turn>\n<start_of_turn>model\nok<end_of_turn>\n"
    assert rendered.text.isascii() and rendered.assistant_spans == [(62, 78)]
    assert rendered == get_template("gemma").render_jinja(messages)
    # llama2 trims the folded system prompt and the user's text as one: the inner ideographic spaces stay
    with_system = [{"role": "system", "content": "\u3000 sys"}, *messages]
    folded = get_template("llama2").render(with_system)
    assert folded.text == "<s>[INST] <<SYS>>\n\u3000 sys\n<</SYS>>\n\n\u3000hi [/INST] ok </s>"
    assert folded == get_template("llama2").render_jinja(with_system)


def test_the_c_renderer_leaves_other_inputs_to_the_python_path():
    layout = get_template("smollm2")._layout
    assert render_in_c([], layout, False) is None
    assert render_in_c([{"role": "user", "content": "hi", "name": "ann"}], layout, False) is None
    assert render_in_c([{"role": "tool", "content": "x"}], layout, False) is None
    assert render_in_c(({"role": "user", "content": "hi"},), layout, False) is None  # a tuple: Python reads it
    assert render_in_c([{"role": "user", "content": "hi"}], None, False) is None  # no layout (a Jinja template)
    with pytest.raises(TypeError, match="layout"):
        render_in_c([{"role": "user", "content": "hi"}], (1, 2), False)


@pytest.mark.parametrize("name", LAYOUTS)
@SETTINGS
@given(messages=alternating(), add_generation_prompt=st.booleans())
def test_a_conversation_read_from_a_file_renders_in_c_as_its_dicts_do(name, messages, add_generation_prompt):
    template, conversation = get_template(name), Conversation.of(messages)
    reference = in_python(FORMATS[name], conversation.messages, add_generation_prompt)  # (Message objects)
    assert outcome(template.render, conversation, add_generation_prompt) == \
        outcome(template.render, messages, add_generation_prompt)
    only_a_folded_system = FORMATS[name].turns.fold_system is not None and [m["role"] for m in messages] == ["system"]
    if reference is not None and not only_a_folded_system:
        assert render_in_c(field_dicts(conversation), template._layout, add_generation_prompt) is not None
        assert outcome(template.render, conversation, add_generation_prompt) == reference


def test_a_conversation_with_extra_fields_or_tools_is_not_taken_for_plain_dicts():
    plain = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "ok"}]
    weighted = Conversation.of([plain[0], {**plain[1], "weight": 0}])
    with_tools = Conversation.of(plain, tools=[{"type": "function", "function": {"name": "f"}}])
    assert field_dicts(weighted) is None and field_dicts(with_tools) is None
    unset = {"name": None, "tool_calls": None, "tool_call_id": None}
    assert field_dicts(Conversation.of(plain)) == [{**plain[0], **unset}, {**plain[1], **unset}]
    template = get_template("chatml")
    assert template.render(weighted) == template.render_jinja(weighted)

"""Spans of a template without `{% generation %}` marks are derived by rendering prefixes: for
every built-in whose official text is prefix-preserving they equal the spans its marked training
variant gives; a template that is not prefix-preserving is refused with the turn that shows it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pydantic import ValidationError

from templating import TemplateError, get_template, list_templates
from templating.environment import compile_template, environment, marks_stream, render_with_spans
from templating.registry import ChatTemplate, plain_messages
from templating.spec import TemplateSpec
from tests.strategies import as_template_reads, conversations
from validation.models import Conversation

# official text prefix-preserving: derived spans == the training variant's marked spans
SAME = ["alpaca", "chatml", "cohere", "cohere2", "diffusion-gemma", "gemma", "gemma3", "gemma4-v5", "lfm2", "lfm2-v2",
        "lfm2.5", "lfm2.5-v2", "llama2", "llama3", "llama3.1", "llama3.2", "mistral", "qwen3-instruct-2507", "smollm2",
        "zephyr"]
# reasoning dropped from earlier turns, a generation prompt that is not the reply's header, an EOS only at the end
NOT_PREFIX_PRESERVING = ["deepseek-r1-distill", "deepseek-v3", "nemotron-3-nano", "nemotron-3-super",
                         "nemotron-3-ultra", "nemotron-3.5-lightning", "phi3", "phi3.5", "qwen3", "qwen3.5",
                         "qwen3.5-nothink", "qwen3.6"]
MULTI_TURN = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"},
              {"role": "user", "content": "More?"}, {"role": "assistant", "content": "Sure."}]


def unmarked(name: str) -> ChatTemplate:
    """The built-in's official text as a template of its own: no marks, as a model ships it."""
    spec = get_template(name).spec
    text = get_template(name).official_jinja
    return ChatTemplate(TemplateSpec(name=f"{name} (official text)", special_tokens=spec.special_tokens,
                                     end_of_turn=spec.end_of_turn, generation_prompt="", bos_token=spec.bos_token,
                                     eos_token=spec.eos_token, official=text, training=text, variables=spec.variables))


@pytest.mark.parametrize("name", SAME)
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(messages=conversations(max_turns=3), generation=st.booleans())
def test_derived_spans_equal_the_marked_ones(name, messages, generation):
    try:
        marked = get_template(name).render(messages, add_generation_prompt=generation)
    except TemplateError:  # the template refuses this conversation (a system turn for gemma): so does its text
        with pytest.raises(TemplateError):
            unmarked(name).render(messages, add_generation_prompt=generation)
        return
    derived = unmarked(name).render(messages, add_generation_prompt=generation)
    assert derived == marked


@pytest.mark.parametrize("name", NOT_PREFIX_PRESERVING)
def test_a_template_that_is_not_prefix_preserving_is_refused_with_the_turn(name):
    with pytest.raises(TemplateError) as caught:
        unmarked(name).render(MULTI_TURN)
    assert f"template {name} (official text) is not prefix-preserving, so the spans of its replies cannot be " \
           "derived: " in str(caught.value)
    assert "give a template with {% generation %} marks" in str(caught.value)


def test_qwen25_derived_span_starts_where_the_model_writes():
    """qwen2.5's marked variant (as TRL's) trains the newline after the assistant header, which the
    generation prompt already holds at inference; the derived span starts after it."""
    derived, marked = unmarked("qwen2.5").render(MULTI_TURN), get_template("qwen2.5").render(MULTI_TURN)
    assert derived.text == marked.text
    assert [(a - 1, b) for a, b in derived.assistant_spans] == marked.assistant_spans


@pytest.mark.parametrize(("name", "start", "end"), [
    ("qwen3.8", len("<think>\n"), 0),  # the generation prompt opens the block; the marked span holds it again
    ("muse-glimmer", len("<|start|>assistant"), 0),  # the marked span holds the header (TRL's choice)
    ("glm4-moe", 0, -len("<|user|>")),  # the official text has no end marker: the next header ends the reply
])
def test_derived_spans_start_where_the_model_writes_and_end_where_the_official_text_ends(name, start, end):
    """Where the marked variant (TRL's) trains more than the reply the model writes after its
    generation prompt, the derived span is that reply: the same text, a narrower span."""
    derived, marked = unmarked(name).render(MULTI_TURN), get_template(name).render(MULTI_TURN)
    assert derived.text == (marked.text[:-len("<|user|>")] if end else marked.text)
    assert derived.assistant_spans == [(a + start, b + end) for a, b in marked.assistant_spans]


# --- {% generation %} marks that stream are compiled as two filters around their body (environment._Streamed) ---

MARKED_BUILTINS = sorted(t.name for t in list_templates() if get_template(t.name).marked)


PROMPT = "{% if add_generation_prompt %}[assistant]{% endif %}"


def as_recorded(source: str):
    """The template compiled without `_Streamed`: every mark a call block that measures its body."""
    env = environment()
    return env.from_string(env.parse(source))


@pytest.mark.parametrize("name", MARKED_BUILTINS)
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                 HealthCheck.function_scoped_fixture])
@given(messages=conversations(max_turns=3), generation=st.booleans())
def test_streamed_marks_give_the_spans_the_measured_ones_give(name, messages, generation):
    template = get_template(name)
    variables = template._variables(as_template_reads(template, messages), generation)

    def outcome(compiled):
        try:
            return render_with_spans(compiled, **variables)
        except TemplateError as exc:  # (refusals too: the same, in the same words)
            return "refused", str(exc)

    streamed = outcome(compile_template(template.jinja))
    assert streamed == outcome(as_recorded(template.jinja))
    assert streamed[0] == "refused" or streamed[1] or not any(m["role"] == "assistant" for m in messages)


@pytest.mark.parametrize("source", [
    # buffered: a macro, a {% call %}, a filter block, a block set (each with a generation prompt: "[assistant]")
    "{% macro reply(m) %}{% generation %}{{ m.content }}<end>{% endgeneration %}{% endmacro %}"
    "{% for m in messages %}[{{ m.role }}]{% if m.role == 'assistant' %}{{ reply(m) }}{% else %}{{ m.content }}"
    "{% endif %}{% endfor %}" + PROMPT,
    "{% macro wrap() %}<{{ caller() }}>{% endmacro %}{% for m in messages %}[{{ m.role }}]"
    "{% if m.role == 'assistant' %}{% call wrap() %}{% generation %}{{ m.content }}<end>{% endgeneration %}"
    "{% endcall %}{% else %}{{ m.content }}{% endif %}{% endfor %}" + PROMPT,
    "{% for m in messages %}[{{ m.role }}]{% if m.role == 'assistant' %}{% filter upper %}{% generation %}"
    "{{ m.content }}<end>{% endgeneration %}{% endfilter %}{% else %}{{ m.content }}{% endif %}{% endfor %}" + PROMPT,
    "{% for m in messages %}[{{ m.role }}]{% if m.role == 'assistant' %}{% set r %}{% generation %}{{ m.content }}"
    "<end>{% endgeneration %}{% endset %}{{ r }}{% else %}{{ m.content }}{% endif %}{% endfor %}" + PROMPT,
])
def test_marks_whose_output_is_buffered_are_not_trusted_the_spans_are_derived(source):
    # compiled as written (the mark measures its body, not streamed) ...
    compiled = compile_template(source)
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]
    assert render_with_spans(compiled, messages=messages) == render_with_spans(as_recorded(source), messages=messages)
    assert not marks_stream(source)
    # ... but where the text lands is not where a buffered mark runs (a {% call %} wraps it in <>): a
    # template with such a mark has its spans derived by rendering prefixes, which finds them
    spec = TemplateSpec(name="buffered", special_tokens=(), end_of_turn="<end>", generation_prompt="",
                        official=source, training=source)
    template = ChatTemplate(spec)
    assert not template.marked
    rendered = template.render(messages)
    assert [rendered.text[a:b] for a, b in rendered.assistant_spans] in (
        ["Hello<end>"], ["<Hello<end>>"], ["HELLO<END>"])


def test_marks_that_stream_are_trusted():
    assert marks_stream(get_template("llama3.1").jinja) and get_template("llama3.1").marked
    assert marks_stream("{% for m in messages %}{% generation %}{{ m.content }}{% endgeneration %}{% endfor %}")


def test_streamed_marks_nest_and_sit_inside_loops_and_conditions():
    source = ("{% for m in messages %}{% if m.role == 'assistant' %}<a>{% generation %}{{ m.content }}"
              "{% generation %}!{% endgeneration %}{% endgeneration %}{% else %}<u>{{ m.content }}{% endif %}{% endfor %}")
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Yo"},
                {"role": "user", "content": "Again"}, {"role": "assistant", "content": "Hey"}]
    text, spans = render_with_spans(compile_template(source), messages=messages)
    assert text == "<u>Hi<a>Yo!<u>Again<a>Hey!"
    # a nested mark records its own span inside its parent's (the measuring call block placed it at its
    # parent's start: the parent's body was a macro, buffered)
    assert [text[a:b] for a, b in spans] == ["!", "Yo!", "!", "Hey!"]
    old_text, old_spans = render_with_spans(as_recorded(source), messages=messages)
    assert old_text == text and [old_text[a:b] for a, b in old_spans] == ["Y", "Yo!", "H", "Hey!"]


wild = st.lists(st.one_of(
    st.fixed_dictionaries({"role": st.sampled_from(["system", "user", "assistant", "tool", "bot"]),
                           "content": st.one_of(st.text(max_size=5), st.none(), st.integers())}),
    st.fixed_dictionaries({"content": st.text(max_size=3), "role": st.just("user")}),  # keys in another order
    st.fixed_dictionaries({"role": st.just("user"), "content": st.text(max_size=3), "name": st.text(max_size=3)}),
    st.just({"role": "user"}), st.just("text")), max_size=4)


@settings(max_examples=300, deadline=None)
@given(messages=wild)
def test_plain_messages_are_what_validation_would_hand_the_template(messages):
    template = get_template("llama3.1")
    plain = plain_messages(messages)
    try:
        validated = [m.to_dict() for m in Conversation.of(messages).messages]
    except ValidationError:
        assert plain is None
        return
    assert plain is None or [list(m.items()) for m in plain] == [list(m.items()) for m in validated]
    if all(type(m) is dict and set(m) == {"role", "content"} and type(m["content"]) is str for m in messages):
        assert plain is not None  # the shortcut serves every such list
    if all(m.get("content") is not None for m in validated):  # (a null content without tool calls is refused)
        assert template._messages(messages) == validated

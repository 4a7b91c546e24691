"""Spans of a template without `{% generation %}` marks are derived by rendering prefixes: for
every built-in whose official text is prefix-preserving they equal the spans its marked training
variant gives; a template that is not prefix-preserving is refused with the turn that shows it."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template
from templating.registry import ChatTemplate
from templating.spec import TemplateSpec
from tests.strategies import conversations

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

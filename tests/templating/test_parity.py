"""Byte-exact parity with the official templates, rendered by transformers itself, and spans
equal to the generation indices transformers computes for the training variants."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template, list_templates
from templating.builtins import GLM_END, HISTORY_THINKING, MARKS_OF, OPEN_THINK
from templating.probes.capabilities import capabilities
from tests.oracle import render_official
from tests.strategies import as_template_reads, conversations, tool_conversations, visible_text
from validation.content import text_of

pytest.importorskip("transformers.utils.chat_template_utils")

SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [spec.name for spec in list_templates()]


def oracle(template, messages, source: str, add_generation_prompt: bool, tools=None):
    return render_official(template.spec, messages, source, add_generation_prompt=add_generation_prompt,
                           return_assistant_tokens_mask=True, tools=tools)


def draw_conversation(template, data, **options):
    """A conversation the template accepts (no system message where it refuses one; content parts
    where it reads only those)."""
    return as_template_reads(template, data.draw(conversations(
        **{"system": None if template.spec.supports_system else False, **options})))


HISTORY_BLOCK = "<|im_start|>assistant\n<think>\n\n</think>\n\n"


def as_official(template, messages, text):
    """(messages, training text) as the official template renders them. Only the qwen3 family and
    glm4-moe differ (`TemplateSpec.training_differs`, docs/templates.md): qwen3's official text keeps
    the empty think block of the final assistant turn only, and strips leading newlines there only
    (qwen3.5's and qwen3.6's: of the replies after the last user turn); glm4-moe's has no `<|user|>`
    after a conversation's last reply."""
    if template.spec.training_differs == GLM_END:  # the official text has no end marker after the last reply
        end = template.spec.end_of_turn
        if messages[-1]["role"] == "assistant":
            tail = end + template.spec.generation_prompt if text.endswith(end + template.spec.generation_prompt) \
                else end
            text = text[:-len(tail)] + tail[len(end):]
        return messages, text
    if template.spec.training_differs != HISTORY_THINKING:
        return messages, text
    # qwen3 keeps the block of the last message only; qwen3.5 and qwen3.6, of every reply after the last user turn
    last = len(messages) - 1 if (template.spec.jinja_name or template.name) == "qwen3" else \
        max(i for i, m in enumerate(messages) if m["role"] == "user")
    history = [i for i, m in enumerate(messages) if m["role"] == "assistant" and i < last]
    messages = [{**m, "content": m["content"].lstrip("\n")} if i in history else m for i, m in enumerate(messages)]
    parts = text.split(HISTORY_BLOCK)
    kept = "".join(part + ("<|im_start|>assistant\n" if k < len(history) else HISTORY_BLOCK)
                   for k, part in enumerate(parts[:-1]))
    return messages, kept + parts[-1]


def with_reasoning_prefill(template, messages):
    """Where the generation prompt opens a think block (deepseek-r1-distill), every assistant turn
    begins with one, as such a model's data does."""
    if not template.spec.generation_prompt.endswith("<think>\n"):
        return messages
    return [{**m, "content": "<think>\nr\n</think>\n\n" + m["content"]} if m["role"] == "assistant" else m
            for m in messages]


def covered(spans, length):
    """The characters spans mark, as a mask: compared this way, the oracle does not repeat the
    registry's own merging of spans (one span per assistant turn is checked below)."""
    mask = bytearray(length)
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    return bytes(mask)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data(), add_generation_prompt=st.booleans())
def test_render_is_byte_identical_to_the_official_template(name, data, add_generation_prompt):
    template = get_template(name)
    messages = draw_conversation(template, data)
    text = template.render(messages, add_generation_prompt=add_generation_prompt).text
    messages, text = as_official(template, messages, text)
    expected, _ = oracle(template, messages, template.official_jinja, add_generation_prompt)
    assert text == expected


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_spans_mark_the_characters_transformers_marks_in_the_training_template(name, data):
    template = get_template(name)
    messages = draw_conversation(template, data)
    reference = span_reference(template)
    text, indices = oracle(reference, messages, reference.jinja, False)
    rendered = template.render(messages)
    assert rendered.text == text
    assert covered(rendered.assistant_spans, len(text)) == covered(indices, len(text))


# Built-ins TRL ships no training variant for train spans derived by rendering (templating/spans.py);
# they must equal the marks TRL wrote into the same format's training variant.
SPAN_REFERENCE = MARKS_OF


def span_reference(template):
    """The template whose `{% generation %}` marks `template`'s spans must equal: its own, or for a
    built-in without marks the marked variant of its format."""
    return template if template.marked else get_template(SPAN_REFERENCE[template.name])


def test_the_built_ins_without_marks_are_those_with_a_span_reference():
    assert [name for name in NAMES if not get_template(name).marked] == list(SPAN_REFERENCE)


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_spans_hold_each_assistant_turn_and_its_end_marker_in_order(name, data):
    template = get_template(name)
    messages = draw_conversation(template, data)
    rendered = template.render(messages)
    assistants = [text_of(m["content"]) for m in messages if m["role"] == "assistant"]
    assert len(rendered.assistant_spans) == len(assistants)
    previous_end = 0
    for (start, end), content in zip(rendered.assistant_spans, assistants):
        assert previous_end <= start < end <= len(rendered.text)
        span = rendered.text[start:end]
        # (trailing spaces aside: mistral-common drops them from replies, and so do mistral-v3 and mistral-tekken)
        expected = content.strip() if template.spec.trims_content else content.rstrip(" ")
        assert expected in span and any(end in span for end in template.spec.end_markers)
        previous_end = end


@pytest.mark.parametrize("name", NAMES)
@SETTINGS
@given(data=st.data())
def test_turns_before_an_assistant_turn_with_the_generation_prompt_are_a_prefix(name, data):
    """What inference sees before the reply is exactly what training saw (prefix stability), except
    where the official template itself prompts with a think block no reply has (OPEN_THINK), and,
    for a template that drops earlier replies' reasoning, before replies a user turn follows
    (`history-reasoning-dropped` warns of those rows)."""
    from templating.probes.capabilities import reasoning_support

    template = get_template(name)
    if template.spec.training_differs == OPEN_THINK:
        pytest.skip(OPEN_THINK)
    # (where the system prompt moves to the last user turn, LAST_USER, only conversations without one)
    messages = with_reasoning_prefill(template, draw_conversation(template, data, min_turns=2,
                                                                  **({"system": False} if name in CALL_RULES else {})))
    full = template.render(messages)
    last_user = max(i for i, m in enumerate(messages) if m["role"] == "user")
    starts = [i for i, m in enumerate(messages) if m["role"] == "assistant"]
    for k, (span_start, _) in zip(starts, full.assistant_spans):
        if k < last_user and not reasoning_support(template).history:
            continue
        prompt = template.render(messages[:k], add_generation_prompt=True).text
        assert full.text.startswith(prompt)
        assert prompt.endswith(template.spec.generation_prompt)


# mistral-common's rules, which mistral-v3 and mistral-tekken enforce (tests/templating/test_mistral.py): every call
# has an id, a turn with calls has no text; and their system prompt is written at the last user turn (LAST_USER).
CALL_RULES = {"mistral-v3": {"ids": True, "text_beside_calls": False},
              "mistral-tekken": {"ids": True, "text_beside_calls": False}}
TOOL_NAMES = [name for name in NAMES if capabilities(get_template(name)).tool_calls
              and (get_template(name).marked or name not in SPAN_REFERENCE)]
# Gemma 4's format writes a call's results inside the model's turn, which the reply then continues
# (`<|tool_call>…<tool_call|><|tool_response>…<tool_response|>text`): not prefix-preserving, so
# the revisions without marks refuse tool conversations (derived spans), and one reply trains as
# several spans.
RESULTS_IN_TURN = {"gemma4-v5", "diffusion-gemma"}


def test_the_tool_capable_built_ins_are_found_by_probing():
    assert [name for name in NAMES if capabilities(get_template(name)).tool_calls and name not in TOOL_NAMES] == [
        "gemma4", "gemma4-v2", "gemma4-v3", "gemma4-v4"]
    assert TOOL_NAMES == ["deepseek-v3", "diffusion-gemma", "gemma4-v5", "glm4-moe", "gpt-oss", "lfm2-v2", "lfm2.5",
                          "lfm2.5-v2", "lfm2.5-vl", "llama3.1", "llama3.2", "mistral-tekken", "mistral-v3",
                          "muse-glimmer", "nemotron-3-nano", "nemotron-3-super", "nemotron-3-ultra",
                          "nemotron-3.5-lightning", "qwen2.5", "qwen3", "qwen3-instruct-2507", "qwen3-nothink",
                          "qwen3-vl", "qwen3.5", "qwen3.5-nothink", "qwen3.6", "qwen3.8"]


def test_gemma4_revisions_without_marks_refuse_a_tool_conversation_with_the_turn_that_shows_why():
    messages = [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "C", "tool_calls": [
        {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "X"}}}]},
        {"role": "tool", "content": "R"}, {"role": "assistant", "content": "F"}]
    with pytest.raises(TemplateError, match=r"^template gemma4 is not prefix-preserving, so the spans of its replies "
                                            r"cannot be derived: messages\[:2\] renders 'C<\|tool_response>' where "
                                            r"the whole conversation has '<\|tool_response>response:get_w'"):
        get_template("gemma4").render(messages)
    assert get_template("gemma4").render_official(messages) == get_template("gemma4-v4").render_official(messages)


@pytest.mark.parametrize("name", TOOL_NAMES)
@SETTINGS
@given(data=st.data(), add_generation_prompt=st.booleans())
def test_tool_conversations_render_byte_identical_with_calls_trained_and_results_not(name, data,
                                                                                   add_generation_prompt):
    template = get_template(name)
    support = capabilities(template)
    messages, tools = data.draw(tool_conversations(max_calls=3 if support.parallel_calls else 1,
                                                   forms=support.arguments, **CALL_RULES.get(name, {})))
    for k, m in enumerate(m for m in messages if m["role"] == "tool"):
        m["content"] = f"RESULT-{k}-{m['content']}"  # findable wherever the template puts it
    text = template.render(messages, tools=tools, add_generation_prompt=add_generation_prompt).text
    official_messages, text = as_official(template, messages, text)
    expected, _ = oracle(template, official_messages, template.official_jinja, add_generation_prompt, tools)
    assert text == expected
    reference = span_reference(template)
    text, indices = oracle(reference, messages, reference.jinja, False, tools)
    rendered = template.render(messages, tools=tools)
    assert rendered.text == text and covered(rendered.assistant_spans, len(text)) == covered(indices, len(text))
    assistants = [m for m in messages if m["role"] == "assistant"]
    trained = "".join(text[a:b] for a, b in rendered.assistant_spans)
    if name in RESULTS_IN_TURN:  # the reply goes on after its calls' results: spans do not map one to a turn
        assert all(call["function"]["name"] in trained for m in assistants for call in m.get("tool_calls", ()))
    else:
        assert len(rendered.assistant_spans) == len(assistants)
        for (start, end), m in zip(rendered.assistant_spans, assistants):
            for call in m.get("tool_calls", ()):  # each call is supervised, in its own turn's span
                assert call["function"]["name"] in text[start:end]
    assert "RESULT-" in text and "RESULT-" not in trained  # each result is context, never a target


def test_gemma_refuses_a_system_message_as_the_official_template_does():
    messages = [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}]
    with pytest.raises(TemplateError, match="^System role not supported$"):
        get_template("gemma").render(messages)
    with pytest.raises(Exception, match="System role not supported"):
        oracle(get_template("gemma"), messages, get_template("gemma").official_jinja, False)


def test_unknown_template_suggests_the_closest_name():
    with pytest.raises(KeyError, match="unknown template 'llama-3.0'; did you mean 'llama-3"):
        get_template("llama-3.0")
    assert get_template("qwen2_5") is get_template("qwen2.5")
    assert get_template("smollm") is get_template("smollm2")


def _reads_reasoning(name):
    from templating.probes.capabilities import reasoning_support

    support = reasoning_support(get_template(name))
    return support.field is not None or support.prompt_trained


REASONING_NAMES = [name for name in NAMES if _reads_reasoning(name)]


def test_the_reasoning_templates_are_found_by_probing():
    assert REASONING_NAMES == ["deepseek-r1-distill", "diffusion-gemma", "gemma4-v5", "glm4-moe", "gpt-oss", "lfm2.5",
                               "lfm2.5-v2", "lfm2.5-vl",
                               "muse-glimmer", "nemotron-3-nano", "nemotron-3-super", "nemotron-3-ultra",
                               "nemotron-3.5-lightning", "qwen3", "qwen3-nothink", "qwen3.5", "qwen3.5-nothink",
                               "qwen3.6", "qwen3.8"]


@pytest.mark.parametrize("name", REASONING_NAMES)
@SETTINGS
@given(data=st.data(), thought=visible_text.filter(lambda t: "<" not in t),
       answer=visible_text.filter(lambda t: "<" not in t), as_field=st.booleans())
def test_a_reasoning_reply_renders_as_the_official_template_and_its_reasoning_is_trained(name, data, thought, answer,
                                                                                          as_field):
    from templating.probes.capabilities import reasoning_support

    template = get_template(name)
    field = reasoning_support(template).field
    reply = {"role": "assistant", "content": answer, field: thought} if as_field and field else \
        {"role": "assistant", "content": f"<think>\n{thought}\n</think>\n\n{answer}"}
    messages = [*data.draw(st.sampled_from([[], [{"role": "system", "content": "Think first."}]])),
                {"role": "user", "content": data.draw(visible_text)}, reply]
    rendered = template.render(messages)
    official, _ = oracle(template, messages, template.official_jinja, False)
    # deepseek-r1-distill's official text drops the think block from the reply (training_differs)
    assert official == (rendered.text.replace(f"<think>\n{thought}\n</think>", "") if name == "deepseek-r1-distill"
                        else as_official(template, messages, rendered.text)[1])
    reference = span_reference(template)
    text, indices = oracle(reference, messages, reference.jinja, False)
    assert rendered.text == text and covered(rendered.assistant_spans, len(text)) == covered(indices, len(text))
    (start, end), = rendered.assistant_spans
    trained = text[start:end]  # reasoning and answer both trained, in this order, in the template's own tags
    assert thought.strip() in trained
    assert answer.strip() in trained[trained.index(thought.strip()) + len(thought.strip()):]

"""gpt-oss against OpenAI's own reference, openai-harmony (a dev dependency, used here only): for
generated conversations, with and without a system prompt, with reasoning on any reply, for
training and as a prompt, our text is the text of the token ids openai-harmony renders for the same
conversation, and encoding our text with Harmony's tokenizer gives those ids back.

The built-in is TRL's gptoss.jinja (the template of openai/gpt-oss-* on the Hub), which
transformers renders identically (test_parity.py). Where that text and openai-harmony differ, the
difference is asserted here as it is, so that a change on either side shows: a system prompt (a
developer message's instructions) is followed by a blank line before `<|end|>` in the template, not
in Harmony; a tool call's content type is written `json` by the template, `<|constrain|>json` by
Harmony; a tool result is written as JSON text (quoted) by the template, as given by Harmony; the
template keeps the last reply's reasoning and drops the earlier ones', where Harmony's training
render drops the reasoning before the first answer (so, with one exchange, the reasoning trained).

openai-harmony reads the o200k_base vocabulary, which it downloads; here it comes from litellm's
wheel (installed without its dependencies by `make install`, never imported), checked against the
hash tiktoken publishes for it."""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import get_template
from tests.strategies import conversations, visible_text

harmony = pytest.importorskip("openai_harmony")
from openai_harmony import (Author, Conversation, DeveloperContent, HarmonyEncodingName, Message,  # noqa: E402
                            ReasoningEffort, RenderConversationConfig, Role, SystemContent, ToolDescription,
                            load_harmony_encoding)

O200K_SHA256 = "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d"  # tiktoken_ext.openai_public
# tiktoken's cache names a file by the SHA-1 of the URL it came from (o200k_base.tiktoken on openaipublic)
O200K_CACHED = "fb374d419588a4632f3f557e76b4b70aebbca790"
DAY = "2025-08-05"  # the built-in's pinned date (templating/builtins.py)
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def vocabulary() -> Path | None:
    spec = importlib.util.find_spec("litellm")  # (finds the package; does not import it)
    if spec is None or not spec.submodule_search_locations:
        return None
    found = Path(spec.submodule_search_locations[0]) / "litellm_core_utils" / "tokenizers" / O200K_CACHED
    return found if found.is_file() else None


@functools.lru_cache(maxsize=None)
def encoding():
    found = vocabulary()
    if found is None:
        pytest.skip("o200k_base vocabulary not installed (make install puts litellm's wheel in .venv without its "
                    "dependencies for it)")
    assert hashlib.sha256(found.read_bytes()).hexdigest() == O200K_SHA256
    folder = Path(tempfile.mkdtemp(prefix="instructkit-o200k-"))
    (folder / "o200k_base.tiktoken").symlink_to(found)
    before = os.environ.get("TIKTOKEN_ENCODINGS_BASE")
    os.environ["TIKTOKEN_ENCODINGS_BASE"] = str(folder)  # (read while loading: put back after)
    try:
        return load_harmony_encoding(HarmonyEncodingName.HARMONY_GPT_OSS)
    finally:
        if before is None:
            del os.environ["TIKTOKEN_ENCODINGS_BASE"]
        else:
            os.environ["TIKTOKEN_ENCODINGS_BASE"] = before


def system_content() -> SystemContent:
    """What the template's system message says: its model identity, cutoff, the pinned date, medium reasoning."""
    return (SystemContent.new().with_reasoning_effort(ReasoningEffort.MEDIUM).with_conversation_start_date(DAY)
            .with_knowledge_cutoff("2024-06"))


def as_harmony(messages: list[dict], tools: list[dict] | None = None, every_reasoning: bool = False) -> Conversation:
    """The conversation as Harmony messages: the system prompt as the developer's instructions, a
    reply's `thinking` in the analysis channel, its text in the final channel, calls in commentary.
    Reasoning: the last message's only, which is what the template keeps of a conversation (a reply
    is trained with its reasoning; earlier replies are history, their reasoning not shown again);
    `every_reasoning`: all of it."""
    out = [Message.from_role_and_content(Role.SYSTEM, system_content())]
    system = [m["content"] for m in messages if m["role"] == "system"]
    developer = DeveloperContent.new()
    if system:
        developer = developer.with_instructions(system[0])
    if tools:
        developer = developer.with_function_tools([ToolDescription.new(
            t["function"]["name"], t["function"]["description"], parameters=t["function"]["parameters"])
            for t in tools])
    if system or tools:
        out.append(Message.from_role_and_content(Role.DEVELOPER, developer))
    for m in messages:
        if m["role"] == "user":
            out.append(Message.from_role_and_content(Role.USER, m["content"]))
        elif m["role"] == "tool":
            out.append(Message.from_author_and_content(Author.new(Role.TOOL, f"functions.{m['name']}"), m["content"])
                       .with_channel("commentary").with_recipient("assistant"))
        elif m["role"] == "assistant":
            if m.get("thinking") and (every_reasoning or m is messages[-1]):
                out.append(Message.from_role_and_content(Role.ASSISTANT, m["thinking"]).with_channel("analysis"))
            for call in m.get("tool_calls", ()):
                out.append(Message.from_role_and_content(Role.ASSISTANT, json.dumps(call["function"]["arguments"]))
                           .with_channel("commentary").with_recipient(f"functions.{call['function']['name']}")
                           .with_content_type("<|constrain|>json"))
            if m["content"]:
                out.append(Message.from_role_and_content(Role.ASSISTANT, m["content"]).with_channel("final"))
    return Conversation.from_messages(out)


def reference(messages: list[dict], prompt: bool, tools: list[dict] | None = None) -> tuple[str, list[int]]:
    """openai-harmony's token ids for the conversation (for training, or as a prompt for the
    assistant's next reply) and their text, Harmony rendering every message it is given."""
    enc, conversation = encoding(), as_harmony(messages, tools)
    as_given = RenderConversationConfig(auto_drop_analysis=False)
    ids = enc.render_conversation_for_completion(conversation, Role.ASSISTANT, as_given) if prompt else \
        enc.render_conversation_for_training(conversation, as_given)
    return enc.decode_utf8(ids), ids


def template_text(harmony_text: str, messages: list[dict]) -> str:
    """Harmony's text as the template writes it: a blank line after a system prompt's instructions."""
    system = [m["content"] for m in messages if m["role"] == "system"]
    if not system:
        return harmony_text
    instructions = f"# Instructions\n\n{system[0]}<|end|>"
    assert harmony_text.count(instructions) == 1
    return harmony_text.replace(instructions, f"# Instructions\n\n{system[0]}\n\n<|end|>")


@st.composite
def reasoned(draw) -> tuple[list[dict], bool]:
    """A conversation (a system prompt or not), some replies with reasoning; or its prompt (the last reply left out)."""
    messages = [dict(m) for m in draw(conversations(max_turns=3))]
    for m in messages:
        if m["role"] == "assistant" and draw(st.booleans()):
            m["thinking"] = draw(visible_text)
    prompt = draw(st.booleans())
    return (messages[:-1] if prompt else messages), prompt


@SETTINGS
@given(case=reasoned())
def test_gpt_oss_renders_what_openai_harmony_renders(case):
    messages, prompt = case
    harmony_text, ids = reference(messages, prompt)
    ours = get_template("gpt-oss").render(messages, add_generation_prompt=prompt).text
    assert ours == template_text(harmony_text, messages)
    if not any(m["role"] == "system" for m in messages):  # the same text: the same token ids
        assert encoding().encode(ours, allowed_special="all") == ids


def test_earlier_reasoning_is_dropped_and_the_last_kept_where_harmony_drops_what_precedes_the_first_answer():
    messages = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello", "thinking": "greet"},
                {"role": "user", "content": "More?"}, {"role": "assistant", "content": "Sure.", "thinking": "ok"}]
    rendered = get_template("gpt-oss").render(messages)
    assert rendered.text == reference(messages, prompt=False)[0]
    assert "greet" not in rendered.text
    # Harmony's own dropping (auto_drop_analysis, its default for training) drops the analysis messages
    # before the first final one: here the same text; with one exchange, the reasoning being trained ...
    enc, default = encoding(), lambda ms: enc.decode_utf8(enc.render_conversation_for_training(
        as_harmony(ms, every_reasoning=True)))
    assert default(messages) == rendered.text
    one = messages[:2]
    assert "greet" not in default(one) and "greet" in get_template("gpt-oss").render(one).text
    # ... and with three, the second reply's as well as the third's
    three = [*messages, {"role": "user", "content": "Last"}, {"role": "assistant", "content": "Bye", "thinking": "end"}]
    assert "ok" in default(three) and "<|message|>ok<|end|>" not in get_template("gpt-oss").render(three).text
    assert rendered.text.endswith("<|start|>assistant<|channel|>analysis<|message|>ok<|end|>"
                                  "<|start|>assistant<|channel|>final<|message|>Sure.<|return|>")
    # both replies are trained, the last with its reasoning
    assert [rendered.text[a:b] for a, b in rendered.assistant_spans][-1].startswith(
        "<|start|>assistant<|channel|>analysis<|message|>ok")


def test_a_tool_call_differs_from_harmony_only_in_how_its_content_type_and_result_are_written():
    tools = [{"type": "function", "function": {
        "name": "get_weather", "description": "Weather of a city",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}]
    messages = [{"role": "user", "content": "Weather in Paris?"},
                {"role": "assistant", "content": "", "tool_calls": [
                    {"type": "function", "function": {"name": "get_weather", "arguments": {"city": "Paris"}}}]},
                {"role": "tool", "name": "get_weather", "content": "sunny"},
                {"role": "assistant", "content": "Sunny."}]
    harmony_text, _ = reference(messages, prompt=False, tools=tools)
    ours = get_template("gpt-oss").render(messages, tools=tools).text
    # the tools' declaration (system and developer messages) is Harmony's, character for character
    assert ours[:ours.index("<|start|>user")] == harmony_text[:harmony_text.index("<|start|>user")]
    assert ours == harmony_text.replace("commentary <|constrain|>json", "commentary json").replace(
        "<|message|>sunny<|end|>", '<|message|>"sunny"<|end|>')

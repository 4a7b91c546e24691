"""mistral-v3 and mistral-tekken against Mistral's own reference, mistral-common (a dev
dependency, used here only): for generated conversations, with and without a system prompt and
tools, our text is the text of the token ids mistral-common gives for the same chat completion,
and tokenizing our text at the control tokens gives those ids back. Its call-id rule (9
characters of a-z, A-Z, 0-9) is refused with its own message."""

from __future__ import annotations

import functools
import json
from pathlib import Path

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from templating import TemplateError, get_template
from tests.strategies import conversations, tool_conversations

mistral_common = pytest.importorskip("mistral_common")
pytest.importorskip("sentencepiece")
from mistral_common.protocol.instruct.messages import (  # noqa: E402
    AssistantMessage, SystemMessage, ToolMessage, UserMessage)
from mistral_common.protocol.instruct.request import ChatCompletionRequest  # noqa: E402
from mistral_common.protocol.instruct.tool_calls import Function, FunctionCall, Tool, ToolCall  # noqa: E402
from mistral_common.protocol.instruct.validator import ValidationMode  # noqa: E402
from mistral_common.tokens.tokenizers.mistral import MistralTokenizer  # noqa: E402

DATA = Path(mistral_common.__file__).parent / "data"
# template -> (mistral-common's tokenizer file, whether a space opens each text run: SentencePiece's prefix)
TOKENIZERS = {"mistral-v3": ("mistral_instruct_tokenizer_240323.model.v3", True),
              "mistral-tekken": ("tekken_240911.json", False)}
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@functools.lru_cache(maxsize=None)  # (loading Tekken's vocabulary takes seconds: once per process, not per example)
def tokenizer(name: str) -> MistralTokenizer:
    return MistralTokenizer.from_file(str(DATA / TOKENIZERS[name][0]), mode=ValidationMode.finetuning)


def request(messages: list[dict], tools: list[dict] | None) -> ChatCompletionRequest:
    def one(m: dict):
        if m["role"] == "system":
            return SystemMessage(content=m["content"])
        if m["role"] == "user":
            return UserMessage(content=m["content"])
        if m["role"] == "tool":
            return ToolMessage(content=m["content"], tool_call_id=m["tool_call_id"])
        calls = [ToolCall(id=c["id"], function=FunctionCall(
            name=c["function"]["name"], arguments=c["function"]["arguments"] if isinstance(
                c["function"]["arguments"], str) else json.dumps(c["function"]["arguments"], ensure_ascii=False)))
            for c in m.get("tool_calls", ())]
        return AssistantMessage(content=m["content"] or None, tool_calls=calls or None)

    return ChatCompletionRequest(messages=[one(m) for m in messages], tools=[
        Tool(function=Function(**t["function"])) for t in tools] if tools else None)


def reference(name: str, messages: list[dict], tools: list[dict] | None = None) -> tuple[str, list[int]]:
    """mistral-common's token ids for the conversation, and their text as a Hugging Face tokenizer
    writes it: control tokens as they are, each run of text tokens decoded (after a space where
    SentencePiece's prefix opened it)."""
    mistral = tokenizer(name)
    ids = mistral.encode_chat_completion(request(messages, tools)).tokens
    raw, spaced = mistral.instruct_tokenizer.tokenizer, TOKENIZERS[name][1]
    parts, run = [], []
    for token in [*ids, None]:
        if token is None or raw.is_special(token):
            if run:
                parts.append(" " * spaced + raw.decode(run))
                run = []
            if token is not None:
                parts.append(raw.id_to_piece(token))
        else:
            run.append(token)
    return "".join(parts), ids


def ids_of(name: str, text: str) -> list[int]:
    """Our text tokenized as a Hugging Face tokenizer of the model does: control tokens by their
    ids, the text between them encoded (its opening space being SentencePiece's prefix)."""
    raw, spaced = tokenizer(name).instruct_tokenizer.tokenizer, TOKENIZERS[name][1]
    controls = sorted(get_template(name).spec.special_tokens, key=len, reverse=True)
    ids, at, start = [], 0, 0
    while at <= len(text):
        found = next((c for c in controls if text.startswith(c, at)), None) if at < len(text) else ""
        if found is None:
            at += 1
            continue
        piece = text[start:at]
        if piece:
            ids += raw.encode(piece[1:] if spaced and piece.startswith(" ") else piece, bos=False, eos=False)
        if found:
            ids.append(raw.get_control_token(found))
        at += len(found) or 1
        start = at
    return ids


def as_mistral_writes(messages: list[dict]) -> list[dict]:
    """A tool conversation as mistral-common takes it: call ids of 9 characters of a-z, A-Z, 0-9,
    results matched to them, no text beside calls. Results are text, not JSON (mistral-common
    embeds a JSON result as its value, which a chat template cannot parse: ours stay strings)."""
    count, out = 0, []
    for m in messages:
        if m.get("tool_calls"):
            calls = []
            for call in m["tool_calls"]:
                count += 1
                calls.append({**call, "id": f"call{count:05d}"})
            m = {**m, "content": "", "tool_calls": calls}
        out.append(m)
    answered = iter(c["id"] for m in out for c in m.get("tool_calls", ()))
    return [{**m, "content": f"RESULT {m['content']}", "tool_call_id": next(answered)} if m["role"] == "tool" else m
            for m in out]


def plain_text(messages: list[dict]) -> bool:
    """Text (content, arguments) without one of the template's tokens (validation rejects those) and without
    SentencePiece's space symbol `▁` (which its decoding turns into a space, so the reference text
    could not show it)."""
    tokens = (*get_template("mistral-v3").spec.special_tokens, "\u2581")
    return not any(t in json.dumps(m, ensure_ascii=False) for m in messages for t in tokens)


@pytest.mark.parametrize("name", list(TOKENIZERS))
@SETTINGS
@given(messages=conversations(max_turns=3))
def test_a_conversation_renders_as_mistral_common_tokenizes_it(name, messages):
    assume(plain_text(messages) and messages[-1]["role"] == "assistant")
    expected, ids = reference(name, messages)
    rendered = get_template(name).render(messages)
    assert rendered.text == expected
    assert ids_of(name, rendered.text) == ids
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assert [rendered.text[a:b] for a, b in rendered.assistant_spans] == [
        " " * TOKENIZERS[name][1] + reply.rstrip(" ") + "</s>" for reply in replies]


@pytest.mark.parametrize("name", list(TOKENIZERS))
@SETTINGS
@given(data=st.data())
def test_a_tool_conversation_renders_as_mistral_common_tokenizes_it(name, data):
    messages, tools = data.draw(tool_conversations(max_calls=2))
    messages = as_mistral_writes(messages)
    assume(plain_text(messages))
    expected, ids = reference(name, messages, tools)
    rendered = get_template(name).render(messages, tools=tools)
    assert rendered.text == expected
    assert ids_of(name, rendered.text) == ids
    trained = "".join(rendered.text[a:b] for a, b in rendered.assistant_spans)
    assert trained.count("[TOOL_CALLS]") == sum(1 for m in messages if m.get("tool_calls"))
    assert "[TOOL_RESULTS]" not in trained and "[AVAILABLE_TOOLS]" not in trained


@pytest.mark.parametrize("name", list(TOKENIZERS))
@pytest.mark.parametrize("bad", ["call_1", "abcDEF12", "abcDEF12é", None])
def test_a_call_id_mistral_common_refuses_is_refused_with_its_message(name, bad):
    messages = [{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": [
        {**({"id": bad} if bad is not None else {}), "type": "function",
         "function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}]},
        {"role": "tool", "content": "sunny", "tool_call_id": bad or "x"}, {"role": "assistant", "content": "Sunny."}]
    with pytest.raises(TemplateError, match=f"Tool call id was {bad} but must be a-z, A-Z, 0-9, with a length of 9"):
        get_template(name).render(messages)
    if bad is not None:
        with pytest.raises(Exception, match=f"Tool call id was {bad} but must be a-z, A-Z, 0-9, with a length of 9"):
            reference(name, messages)


@pytest.mark.parametrize(("messages", "message"), [
    ([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "Let me look.", "tool_calls": [
        {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}]}],
     "Cannot have tool calls and content defined in the same assistant message"),
    ([{"role": "user", "content": "Weather?"}, {"role": "assistant", "content": "", "tool_calls": [
        {"id": "abcDEF123", "type": "function", "function": {"name": "get_weather", "arguments": {"city": "Seoul"}}}]},
      {"role": "tool", "content": "sunny", "tool_call_id": "abcDEF123"}, {"role": "assistant", "content": "Sunny."},
      {"role": "user", "content": "Thanks"}, {"role": "assistant", "content": "Welcome."}],
     "mistral-common drops the tool calls and results before the last user turn"),
])
def test_what_mistral_common_refuses_or_drops_is_refused(messages, message):
    for name in TOKENIZERS:
        with pytest.raises(TemplateError, match=message):
            get_template(name).render(messages)


def test_the_system_prompt_and_tools_go_before_the_last_user_turn():
    messages = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "Hi"},
                {"role": "assistant", "content": "Hello"}, {"role": "user", "content": "안녕"},
                {"role": "assistant", "content": "안녕하세요"}]
    text = get_template("mistral-tekken").render(messages).text
    assert text == "<s>[INST]Hi[/INST]Hello</s>[INST]Be brief.\n\n안녕[/INST]안녕하세요</s>"
    assert text == reference("mistral-tekken", messages)[0]

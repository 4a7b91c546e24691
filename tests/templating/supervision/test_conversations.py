"""templating/supervision/conversations.py: what training on a conversation supervises, measured with the real tokenizer
and template (the Auditor)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from templating import get_template, register_template
from templating.supervision.conversations import Auditor
from tests.strategies import as_template_reads, conversations
from templating import audit


TEMPLATES = Path(__file__).parents[2] / "data" / "templates"


def chat(*turns: str, system: str | None = None) -> dict:
    roles = ["user", "assistant"] * len(turns)
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": messages + [{"role": r, "content": c} for r, c in zip(roles, turns)]}


def issues(report) -> list[tuple[int, str, str]]:
    return [(i.row, i.path, i.code) for i in report.issues]


def test_supervised_tokens_are_the_reply_and_its_end_of_turn(smollm2_tokenizer):
    result = Auditor(smollm2_tokenizer, get_template("chatml")).audit([chat("Hi", "Hello!")["messages"]])[0]
    trained = smollm2_tokenizer.decode([t for t, m in zip(result.ids, result.mask) if m])
    assert (trained, result.findings) == ("Hello!<|im_end|>\n", [])


def test_over_length_policies(smollm2_tokenizer):
    data = [chat("Q1", "A1", "Q2", "A2", "Q3 " + "x " * 20, "A3"), chat("Hi", "Hello!")]
    def run(policy):
        return audit(data, tokenizer=smollm2_tokenizer, template=get_template("chatml"), max_length=40, over_length=policy)

    drop = run("drop")
    assert issues(drop) == [(1, "messages", "too-long")] and drop.summary["rows_dropped"] == 1
    assert issues(run("raise")) == [(1, "messages", "over-length")]
    fitted = Auditor(smollm2_tokenizer, get_template("chatml"), 40, "truncate-prompt").audit([data[0]["messages"]])[0]
    assert [m.content for m in fitted.messages] == ["Q3 " + "x " * 20, "A3"]
    assert len(fitted.ids) <= 40 and not fitted.dropped
    assert fitted.findings[0].code == "too-long" and "the 4 oldest messages are dropped" in fitted.findings[0].text


def test_truncate_prompt_keeps_the_system_prompt(smollm2_tokenizer):
    messages = chat("Q1", "A1 " * 10, "Q2", "A2", system="Be brief.")["messages"]
    fitted = Auditor(smollm2_tokenizer, get_template("chatml"), 30, "truncate-prompt").audit([messages])[0]
    assert [m.content for m in fitted.messages] == ["Be brief.", "Q2", "A2"]


def test_broken_templates_are_caught_with_their_codes(smollm2_tokenizer):
    chatml = get_template("chatml")
    common = {"special_tokens": chatml.spec.special_tokens, "end_of_turn": "<|im_end|>",
              "generation_prompt": "<|im_start|>assistant\n", "replace": True}
    no_eot = register_template("audit-no-eot", TEMPLATES / "no_eot_in_mask.jinja",
                               training_jinja=TEMPLATES / "no_eot_in_mask.jinja", **common)
    double = register_template("audit-double-bos", TEMPLATES / "double_bos.jinja",
                               training_jinja=TEMPLATES / "double_bos.jinja", bos_token="<|endoftext|>", **common)
    # marks, but around nothing of the reply (a template without marks has its spans derived instead)
    empty = chatml.jinja.replace("{%- generation %}", "{%- generation %}{%- endgeneration %}", 1).replace(
        "{%- endgeneration %}\n    {%- else %}", "\n    {%- else %}", 1)
    stock = register_template("audit-no-spans", empty, training_jinja=empty, **common)
    data = [chat("Hi", "Hello!", "Bye", "Ciao")]
    codes = {t.name: issues(audit(data, tokenizer=smollm2_tokenizer, template=t))
             for t in (no_eot, double, stock)}
    assert codes == {
        "audit-no-eot": [(1, "messages[1].content", "end-of-turn-not-supervised"),
                         (1, "messages[3].content", "end-of-turn-not-supervised")],
        "audit-double-bos": [(1, "messages", "double-bos")],
        "audit-no-spans": [(1, "messages[1].content", "response-not-supervised"),
                           (1, "messages[3].content", "response-not-supervised")]}


def test_a_bos_the_tokenizer_lacks_is_a_warning(smollm2_tokenizer):
    report = audit([chat("Hi", "Hello!")], tokenizer=smollm2_tokenizer, template=get_template("llama3"))
    assert issues(report) == [(1, "messages", "missing-bos")] and report.ok


def test_every_registry_template_supervises_every_reply_and_its_end_of_turn(smollm2_tokenizer):
    from templating.builtins import BUILTINS
    from templating.probes.capabilities import reasoning_support

    for spec in BUILTINS:  # (as parts for the templates that read parts only: smolvlm, idefics3, llava-next)
        data = [{"messages": as_template_reads(get_template(spec.name), chat("Hi", "Hello!", "Bye", "Ciao")["messages"])}]
        codes = {i.code for i in audit(data, tokenizer=smollm2_tokenizer, template=get_template(spec.name)).issues}
        # other families' BOS is not a SmolLM2 token; the empty think block qwen3's training variant puts in
        # replies without reasoning, and where the generation prompt holds it (qwen3-nothink), that prompt
        support = reasoning_support(get_template(spec.name))
        plain_prompt = "plain" in support.prompt_trained
        expected = {"missing-bos"} | ({"empty-think-supervised"} if support.empty_block and not plain_prompt
                                      else set()) | ({"generation-prompt-trained"} if plain_prompt else set())
        assert codes <= expected, spec.name


@pytest.mark.parametrize("policy", ["truncate", "truncate-prompt", "drop", "raise"])
def test_the_audit_never_changes_rows_that_fit(smollm2_tokenizer, policy):
    result = Auditor(smollm2_tokenizer, get_template("smollm2"), 512, policy).audit([chat("Hi", "Hello!")["messages"]])
    assert (result[0].findings, result[0].dropped, len(result[0].messages)) == ([], False, 2)


@settings(max_examples=60, deadline=None)
@given(conversations(max_turns=5), st.integers(8, 80))
def test_truncate_prompt_keeps_the_system_prompt_and_the_last_reply_and_fits_when_it_can(smollm2_tokenizer, messages,
                                                                                       limit):
    template = get_template("chatml")
    result = Auditor(smollm2_tokenizer, template, limit, "truncate-prompt").audit([messages])[0]
    kept = [m.to_dict() for m in result.messages]
    assert kept[-1] == messages[-1]  # the last reply is never dropped
    assert (kept[0] == messages[0]) if messages[0]["role"] == "system" else kept[0]["role"] == "user"
    assert messages[len(messages) - len(kept) + (messages[0]["role"] == "system"):] == \
        kept[messages[0]["role"] == "system":]  # a suffix of whole exchanges
    last_exchange = messages[:1] * (messages[0]["role"] == "system") + messages[-2:]
    fits = len(Auditor(smollm2_tokenizer, template).audit([last_exchange])[0].ids) <= limit
    assert len(result.ids) <= limit or not fits or len(kept) == len(last_exchange)


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_supervised_tokens_decode_to_the_replies_and_their_end_of_turn(smollm2_tokenizer, messages):
    """Exact when replies start with a visible ASCII character: a token may otherwise hold the
    header's newline and the reply's first bytes together (then it is in the mask, as in HF's):
    each reply gets one in front, rather than most examples being filtered out."""
    messages = [{**m, "content": "A" + m["content"]} if m["role"] == "assistant" else m for m in messages]
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assume(all(smollm2_tokenizer.decode(smollm2_tokenizer.encode(r, add_special_tokens=False)) == r
               for r in replies))  # characters the byte-level vocabulary cannot spell decode as U+FFFD
    assume(not any(c in m["content"] for m in messages for c in ("<|im_start|>", "<|im_end|>", "<|endoftext|>")))
    result = Auditor(smollm2_tokenizer, get_template("smollm2")).audit([messages])[0]
    assert [f for f in result.findings if f.code != "special-token-in-content"] == []
    trained = smollm2_tokenizer.decode([t for t, m in zip(result.ids, result.mask) if m])
    expected = "".join(m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant")
    assert trained == expected


def test_findings_after_truncate_prompt_point_at_the_original_messages(smollm2_tokenizer):
    messages = chat("Q1", "A1", "Q2", "tail " * 60)["messages"]
    result = Auditor(smollm2_tokenizer, get_template("chatml"), 30, "truncate-prompt").audit([messages])[0]
    assert [(f.path, f.code) for f in result.findings] == [("messages", "too-long"), ("messages[3].content", "response-truncated")]


TOOL_ROW = {"messages": [
    {"role": "user", "content": "Weather in Seoul?"},
    {"role": "assistant", "content": "", "tool_calls": [{"type": "function", "function": {
        "name": "get_weather", "arguments": {"city": "Seoul"}}}]},
    {"role": "tool", "content": "3°C, clear"},
    {"role": "assistant", "content": "It is 3°C."}]}
# The call is written before the trained span.
CALL_OUTSIDE = """{%- for m in messages -%}
{%- if m.role == 'assistant' -%}<|im_start|>assistant
{% if m.tool_calls %}<call>{{ m.tool_calls[0].function.name }}</call>{% endif %}{% generation %}{{ m.content }}<|im_end|>
{% endgeneration %}
{%- else -%}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif -%}
{%- endfor -%}"""
# The tool result is written inside a trained block right after the call's.
RESULT_INSIDE = """{%- for m in messages -%}
{%- if m.role == 'assistant' -%}<|im_start|>assistant
{% generation %}{% if m.tool_calls %}<call>{{ m.tool_calls[0].function.name }}</call>{% endif %}{{ m.content }}<|im_end|>
{% endgeneration %}
{%- elif m.role == 'tool' -%}{% generation %}<result>{{ m.content }}</result>
{% endgeneration %}
{%- else -%}<|im_start|>{{ m.role }}
{{ m.content }}<|im_end|>
{% endif -%}
{%- endfor -%}"""


@pytest.mark.parametrize(("jinja", "expected"), [
    (CALL_OUTSIDE, [(1, "tool_calls[0]", "call-not-supervised")]),
    (RESULT_INSIDE, [(2, "content", "tool-result-supervised")]),
])
def test_the_audit_finds_calls_not_trained_and_results_trained(smollm2_tokenizer, jinja, expected):
    from validation.models import Conversation

    template = register_template("tool-probe", jinja, special_tokens=["<|im_start|>", "<|im_end|>"],
                                 end_of_turn="<|im_end|>", generation_prompt="<|im_start|>assistant\n",
                                 training_jinja=jinja)
    [result] = Auditor(smollm2_tokenizer, template).audit([Conversation.of(TOOL_ROW["messages"])])
    assert [(f.message, f.field, f.code) for f in result.findings] == expected


@pytest.mark.parametrize("name", ["qwen2.5", "llama3.2"])
def test_the_tool_templates_train_calls_and_not_results(smollm2_tokenizer, name):
    from validation.models import Conversation

    [result] = Auditor(smollm2_tokenizer, get_template(name)).audit([Conversation.of(TOOL_ROW["messages"])])
    assert [f.code for f in result.findings if f.code in ("call-not-supervised", "tool-result-supervised")] == []


def test_train_false_and_train_on_last_leave_exactly_those_turns_out_of_the_mask(smollm2_tokenizer):
    from templating.tokens import mask_of

    template = get_template("smollm2")
    messages = chat("Hi", "Hello!", "Bye", "Ciao")["messages"]
    every = Auditor(smollm2_tokenizer, template).audit([messages])[0]
    rendered = template.render(messages)
    encoding = smollm2_tokenizer.backend_tokenizer.encode(rendered.text, add_special_tokens=False)
    first, second = rendered.assistant_spans
    only_first = mask_of(encoding, type(rendered)(rendered.text, [first]))
    only_second = mask_of(encoding, type(rendered)(rendered.text, [second]))
    assert every.mask == [a | b for a, b in zip(only_first, only_second)] and any(only_first) and any(only_second)

    last = Auditor(smollm2_tokenizer, template, train_on="last").audit([messages])[0]
    assert (last.mask, last.untrained, last.findings) == (only_second, 1, [])
    marked = [dict(m) for m in messages]
    marked[1]["train"], marked[3]["train"] = True, False  # a message's own flag wins over train_on
    flagged = Auditor(smollm2_tokenizer, template, train_on="last").audit([marked])[0]
    assert (flagged.mask, flagged.untrained, flagged.findings) == (only_first, 1, [])
    marked[1]["train"] = False
    none = Auditor(smollm2_tokenizer, template).audit([marked])[0]
    assert not any(none.mask) and [f.code for f in none.findings] == ["no-trained-turn"]


def test_check_against_trl_accepts_turns_left_out_on_purpose_and_nothing_else(smollm2_tokenizer):
    import datasets

    from training.prepare import MaskMismatch, check_against_trl, tokenized_dataset

    template = get_template("smollm2")
    rows = Auditor(smollm2_tokenizer, template, train_on="last").audit([chat("Hi", "Hello!", "Bye", "Ciao")["messages"]])
    prepared = tokenized_dataset(rows, assistant_only_loss=True)
    assert check_against_trl(rows, smollm2_tokenizer, template, prepared) == 1
    wrong = datasets.Dataset.from_dict({"input_ids": prepared["input_ids"],
                                        "assistant_masks": [[1] * len(prepared["input_ids"][0])]})
    with pytest.raises(MaskMismatch):
        check_against_trl(rows, smollm2_tokenizer, template, wrong)  # a mask over the prompt is still caught

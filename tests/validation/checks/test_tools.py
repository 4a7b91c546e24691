"""Tool calls against declared tools, and replies against a response schema (validation/checks/tools.py):
the forms real datasets store them in, each finding at its row and path."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from validation import validate
from templating import get_template
from validation.checks.tools import has_tool_fields
from validation.errors import InputError
WEATHER = {"name": "get_weather", "description": "Current weather of a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"},
                                                           "days": {"type": "integer", "minimum": 1}},
                          "required": ["city"], "additionalProperties": False}}


def conversation(arguments, *, call_id="call_1", result_id="call_1", name="get_weather"):
    result = {"role": "tool", "content": "3°C", **({"tool_call_id": result_id} if result_id else {})}
    return [{"role": "user", "content": "서울 날씨 어때?"},
            {"role": "assistant", "content": None,
             "tool_calls": [{"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]},
            result, {"role": "assistant", "content": "서울은 3°C예요."}]


def found(rows, **kwargs):
    report = validate(rows, **kwargs)
    return [(i.row, i.path, i.code) for i in report.issues]


@pytest.mark.parametrize("tools", [[{"type": "function", "function": WEATHER}], [WEATHER],
                                   json.dumps([{"type": "function", "function": WEATHER}])],
                         ids=["openai", "bare", "json-text"])
@pytest.mark.parametrize("arguments", [{"city": "Seoul", "days": 2}, '{"city": "Seoul", "days": 2}'],
                         ids=["object", "string"])
def test_tools_and_arguments_in_every_stored_form_validate(tools, arguments):
    assert found([{"messages": conversation(arguments), "tools": tools}]) == []


def test_each_argument_problem_is_at_its_json_pointer():
    rows = [{"messages": conversation({"days": 0, "city": 5, "extra": True}), "tools": [WEATHER]}]
    base = "messages[1].tool_calls[0].function.arguments"
    assert found(rows) == [(1, base, "arguments-mismatch"), (1, f"{base}#/city", "arguments-mismatch"),
                           (1, f"{base}#/days", "arguments-mismatch")]
    messages = {i.path: i.message for i in validate(rows).issues}
    assert messages[f"{base}#/days"] == "call of 'get_weather': 0 is less than the minimum of 1"
    assert "'extra' was unexpected" in messages[base]


def test_results_without_ids_answer_the_calls_in_order_and_names_must_match():
    messages = conversation({"city": "Seoul"}, result_id=None)
    messages[2]["name"] = "get_weather"
    assert found([{"messages": messages, "tools": [WEATHER]}]) == []
    messages[2]["name"] = "get_time"
    assert found([{"messages": messages, "tools": [WEATHER]}]) == [(1, "messages[2].name", "tool-name-mismatch")]


def test_a_result_must_answer_a_call_of_its_own_turn():
    messages = conversation({"city": "Seoul"})
    late = messages + [{"role": "user", "content": "또?"}, {"role": "tool", "tool_call_id": "call_1", "content": "4°C"},
                       {"role": "assistant", "content": "4°C."}]
    report = validate([{"messages": late, "tools": [WEATHER]}])
    assert [(i.path, i.code) for i in report.issues] == [("messages[5].tool_call_id", "call-answered-twice")]
    other = conversation({"city": "Seoul"}, result_id="call_9")
    assert found([{"messages": other, "tools": [WEATHER]}]) == [
        (1, "messages[2].tool_call_id", "tool-without-call"), (1, "messages[3].role", "unanswered-call")]


def test_a_conversation_may_end_on_a_call():
    messages = conversation({"city": "Seoul"})[:2]
    assert found([{"messages": messages, "tools": [WEATHER]}]) == []


def test_sharegpt_function_call_rows_are_checked_against_their_tools():
    row = {"conversations": [{"from": "human", "value": "서울 날씨?"},
                             {"from": "function_call", "value": json.dumps({"name": "get_weather",
                                                                             "arguments": {"city": 1}})},
                             {"from": "observation", "value": "3°C"}, {"from": "gpt", "value": "3°C예요."}],
           "tools": json.dumps([WEATHER])}
    assert found([row]) == [(1, "conversations[1].tool_calls[0].function.arguments#/city", "arguments-mismatch")]


def test_the_c_fast_path_leaves_rows_with_tools_to_the_tool_checks(tmp_path):
    path = tmp_path / "tools.jsonl"
    def clean(i):
        return {"messages": [{"role": "user", "content": f"hi {i}"}, {"role": "assistant", "content": "hello"}]}

    broken = [{"name": "x", "parameters": {"type": "objekt"}}]
    rows = [clean(i) if i % 2 else {**clean(i), "tools": broken} for i in range(6000)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    report = validate(path)
    assert report.invalid == 3000 and {i.code for i in report.issues} == {"invalid-tool-schema"}


SCHEMA = {"type": "object", "properties": {"price": {"type": "number"}}, "required": ["price"]}


def test_response_schema_checks_the_last_reply_or_all_of_them():
    rows = [{"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "not json"},
                          {"role": "user", "content": "b"}, {"role": "assistant", "content": '{"price": 3}'}]}]
    assert found(rows, response_schema=SCHEMA) == []
    assert found(rows, response_schema=SCHEMA, response_scope="all") == [(1, "messages[1].content",
                                                                          "response-not-json")]


def test_a_response_schema_that_is_not_one_is_refused(tmp_path):
    with pytest.raises(InputError, match="not a valid JSON Schema"):
        validate([], response_schema={"type": "objekt"})
    with pytest.raises(InputError, match="no such file"):
        validate([], response_schema=tmp_path / "missing.json")


def test_too_many_calls_for_a_template_that_renders_one_per_turn():
    from templating import register_template
    from tests.templating.probes.test_capabilities import ONE_CALL
    from tests.validation.test_broken_rows import BROKEN

    register_template("one-call", ONE_CALL, special_tokens=["<call>"], end_of_turn="</assistant>",
                      generation_prompt="<assistant>")
    codes = found(BROKEN / "too-many-calls.jsonl", template=get_template("one-call"))
    assert (2, "messages[1].tool_calls", "too-many-calls") in codes
    assert {c for _, _, c in codes} == {"too-many-calls", "tools-not-rendered", "arguments-form"}  # no tool list;
    # object arguments print as a repr there


def test_fix_rewrites_arguments_in_the_form_the_template_takes(tmp_path):
    from tests.validation.test_broken_rows import BROKEN

    clean = tmp_path / "clean.jsonl"
    report = validate(BROKEN / "arguments-form.jsonl", template=get_template("qwen2.5"), fix=True, write_clean=clean)
    assert [(f.row, f.path, f.code) for f in report.fixes] == [
        (2, "messages[1].tool_calls[0].function.arguments", "arguments-converted")]
    assert report.issues == [] and report.valid == 3
    row = json.loads(clean.read_text(encoding="utf-8").splitlines()[1])
    assert row["messages"][1]["tool_calls"][0]["function"]["arguments"] == {"city": "Seoul", "unit": "c"}
    from validation import read

    rendered = get_template("qwen2.5").render(list(read(clean))[1]).text
    assert '"arguments": {"city": "Seoul", "unit": "c"}' in rendered  # JSON, not a JSON string in JSON


def test_rows_that_differ_only_in_their_calls_are_not_duplicates():
    seoul = {"messages": conversation({"city": "Seoul"}), "tools": [WEATHER]}
    busan = {"messages": conversation({"city": "Busan"}), "tools": [WEATHER]}
    as_text = {"messages": conversation('{"city": "Seoul"}'), "tools": [WEATHER]}
    assert found([seoul, busan]) == []
    assert found([seoul, busan, as_text]) == [(3, "messages", "duplicate")]  # the same call, written as text


def test_stats_counts_tools_calls_and_valid_arguments():
    from pathlib import Path

    from tests.validation.test_broken_rows import BROKEN
    from validation import stats

    example = Path(__file__).resolve().parents[3] / "examples" / "tool_calls.jsonl"
    assert stats(example).summary.tools.to_json() == {
        "rows_with_tools": 41, "rows_with_calls": 37, "tools_per_row": {"mean": 3.0, "max": 3},
        "calls": 44, "calls_per_conversation": {"mean": 1.189, "max": 2}, "parallel_turns": 7,
        "tool_results": 44, "arguments_checked": 44, "arguments_valid": 44}
    broken = stats(BROKEN / "arguments-mismatch.jsonl").summary.tools
    assert (broken.arguments_checked, broken.arguments_valid) == (3, 2)
    assert "tools" not in stats(BROKEN / "trailing-user-turn.jsonl").summary.to_json()  # nothing to count


def test_stats_finds_tools_in_any_kind_of_file_and_counts_valid_replies(tmp_path):
    from tests.validation.test_broken_rows import BROKEN
    from validation import stats

    rows = [{"messages": conversation({"city": "Seoul"}), "tools": [WEATHER]}]
    path = tmp_path / "rows.json"
    path.write_text(json.dumps(rows, ensure_ascii=False), encoding="utf-8")  # a JSON array: sampled, not searched
    assert stats(path).summary.tools.calls == 1
    replies = stats(BROKEN / "response-schema-mismatch.jsonl",
                    response_schema=BROKEN / "product.schema.json").summary.responses
    assert (replies.replies, replies.valid, replies.share_valid) == (3, 2, 0.6667)


def test_max_length_in_tokens_counts_the_tool_list_and_takes_null_call_content(smollm2_tokenizer):
    messages = conversation({"city": "Seoul"})  # the call's content is null

    def length(row):
        [issue] = [i for i in validate([row], template=get_template("qwen2.5"), max_length=1,
                                       tokenizer=smollm2_tokenizer).issues if i.code == "too-long"]
        return int(issue.message.split()[0])

    expected = len(smollm2_tokenizer(get_template("qwen2.5").render(
        [{**m, "content": m["content"] or ""} for m in messages], tools=[WEATHER]).text,
        add_special_tokens=False)["input_ids"])
    assert length({"messages": messages, "tools": [WEATHER]}) == expected
    assert length({"messages": messages}) < expected


def test_the_stats_reader_notes_tool_rows_as_it_reads_them():
    from validation import _rowscan

    def tool_rows(*rows):
        data = "".join(json.dumps(r) + "\n" for r in rows).encode()
        return _rowscan.read_messages(data, b"messages", b"role", b"content", None, True)[4]

    plain = {"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}
    declared = {**plain, "tools": [WEATHER]}
    calling = {"messages": [{"role": "user", "content": "hi"},
                            {"role": "assistant", "content": "", "tool_calls": [{"function": {"name": "f"}}]}]}
    talking = {"messages": [{"role": "user", "content": 'what are "tools" and tool_calls?'},
                            {"role": "assistant", "content": "words"}]}
    assert (tool_rows(plain, talking), tool_rows(plain, declared, calling)) == (0, 2)


json_values = st.recursive(
    st.one_of(st.none(), st.booleans(), st.integers(), st.sampled_from(["tools", "tool_calls", "function_call",
                                                                        "my tools", 'a"tools"', "x"])),
    lambda inner: st.one_of(st.lists(inner, max_size=3),
                            st.dictionaries(st.sampled_from(["tools", "tool_calls", "function_call", "role",
                                                             "content", "toolsx"]), inner, max_size=3)),
    max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(row=st.dictionaries(st.sampled_from(["messages", "tools", "id", "conversations"]), json_values, max_size=3))
def test_tool_fields_are_found_where_the_row_written_as_json_names_them(row):
    text = json.dumps(row, ensure_ascii=False)
    assert has_tool_fields(row) == any(f'"{name}"' in text for name in ("tools", "tool_calls", "function_call"))


def test_a_row_nested_a_thousand_deep_is_searched_without_recursion():
    deep: object = "tools"
    for _ in range(5000):
        deep = [deep]
    assert has_tool_fields({"meta": deep}) and not has_tool_fields({"meta": [[[["x"]]]]})

"""Properties: validation is total, conversion round-trips, the fast path agrees with the precise one."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import PART_RULES, conversations, metadata, tool_conversations, wild_row, with_parts
from validation import CannotConvert, Conversation, get_format, validate
from validation.checks.messages import check_messages, fast_clean, message_dup_text
from validation.readers.decode import decode_row
from validation.errors import InputError
from validation.report import Issue
from validation.checks.rules import CHATML
from templating import get_template

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FAST
@given(st.binary(max_size=200))
def test_decode_row_never_raises_on_arbitrary_bytes(raw):
    result = decode_row(raw, 1)
    assert isinstance(result, (dict, Issue))


@FAST
@given(st.lists(st.binary(max_size=80), max_size=6))
def test_validate_never_raises_on_arbitrary_bytes(tmp_path_factory, lines):
    path = tmp_path_factory.mktemp("bytes") / "data.jsonl"
    path.write_bytes(b"\n".join(line.replace(b"\n", b" ") for line in lines))
    if not path.read_bytes().removeprefix(b"\xef\xbb\xbf").strip():  # no row at all (blank lines, a BOM): refused
        with pytest.raises(InputError, match=r": no rows to check \(the dataset is empty\)$"):
            validate(path, format="messages", template=get_template("chatml"), max_length=10)
        return
    report = validate(path, format="messages", template=get_template("chatml"), max_length=10)
    assert report.rows == report.valid + report.invalid
    assert all(1 <= issue.row <= max(len(lines), 1) for issue in report.issues)


@FAST
@given(st.lists(wild_row, max_size=6))
def test_validate_is_total_on_arbitrary_rows(rows):
    if not rows:  # an empty dataset is refused (a training gate must not pass it)
        with pytest.raises(InputError, match=r"^<rows>: no rows to check \(the dataset is empty\)$"):
            validate(rows, format="messages", template=get_template("chatml"), max_length=20)
        return
    report = validate(rows, format="messages", template=get_template("chatml"), max_length=20)
    assert report.rows == len(rows) == report.valid + report.invalid
    invalid_rows = {i.row for i in report.issues if i.severity == "error"}
    assert report.invalid == len(invalid_rows)


@FAST
@given(wild_row)
def test_fast_path_clears_only_rows_the_precise_path_finds_clean(row):
    messages = row.get("messages")
    text = fast_clean(messages, CHATML)
    if text is not None:
        checked, issues = check_messages(messages, 1, lambda i, f: f"messages[{i}].{f}", "messages", CHATML)
        assert checked is not None
        control_or_token = [i for i in issues if i.code in ("control-character", "special-token-in-content")]
        # Those two are left to the per-chunk Rust scan; everything else must be clean.
        assert [i for i in issues if i not in control_or_token] == []


@FAST
@given(conversations().flatmap(with_parts), st.sampled_from([None, CHATML, PART_RULES]))
def test_fast_path_clears_only_rows_of_parts_the_precise_path_finds_clean(row, rules):
    text = fast_clean(row["messages"], rules)
    if text is not None:
        checked, issues = check_messages(row["messages"], 1, lambda i, f: f"messages[{i}].{f}", "messages", rules)
        assert checked is not None
        assert [i for i in issues if i.code not in ("control-character", "special-token-in-content")] == []
        assert text == message_dup_text(checked)  # the same text to hash as the precise path's


ROUND_TRIP = ["messages", "sharegpt", "prompt-completion"]


@FAST
@given(conversations().flatmap(with_parts), metadata, st.sampled_from(ROUND_TRIP + ["alpaca", "qa"]))
def test_convert_rows_of_parts_to_format_and_back_is_identity(row, meta, target):
    try:
        conversation = Conversation.of(row["messages"], **meta)
    except ValueError:  # (a part the model does not read: validate reports it)
        return
    parts = any(isinstance(m.content, list) for m in conversation.messages)
    fmt = get_format(target)
    try:
        written = fmt.from_conversation(conversation)
    except CannotConvert as exc:
        assert target in ("alpaca", "qa"), exc
        return
    assert not (parts and target in ("alpaca", "qa"))  # (they hold text: parts are refused, never flattened)
    raw, back_meta = fmt.split(json.loads(json.dumps(written)))
    assert Conversation.of(raw, **back_meta) == conversation


@FAST
@given(conversations(), metadata, st.sampled_from(ROUND_TRIP + ["alpaca", "qa"]))
def test_convert_messages_to_format_and_back_is_identity(messages, meta, target):
    conversation = Conversation.of(messages, **meta)
    fmt = get_format(target)
    try:
        row = fmt.from_conversation(conversation)
    except CannotConvert:
        assert target in ("alpaca", "qa")
        return
    row = json.loads(json.dumps(row))  # what a file would hold
    raw, back_meta = fmt.split(row)
    back = Conversation.of(raw, **back_meta)
    assert back == conversation


@FAST
@given(st.lists(st.tuples(conversations(), metadata), min_size=1, max_size=5), st.sampled_from(ROUND_TRIP),
       st.sampled_from(["jsonl", "json"]))
def test_a_converted_file_has_one_layout_per_column_and_reads_back_unchanged(tmp_path_factory, rows, target, kind):
    """prompt-completion's strings or message lists: one for the whole file, as datasets and TRL need."""
    from validation import convert, read

    source = [get_format("messages").from_conversation(Conversation.of(m, **meta)) for m, meta in rows]
    out = tmp_path_factory.mktemp("convert") / f"out.{kind}"
    report = convert(source, out, to=target, format="messages")
    written = [json.loads(line) for line in out.read_bytes().splitlines()] if kind == "jsonl" else \
        json.loads(out.read_text())
    assert report.valid == len(written) == len(rows)
    for field in ("prompt", "completion") if target == "prompt-completion" else ():
        assert len({type(row[field]) for row in written}) == 1
    back = [c for c in read(out, format=target)]
    assert back == [Conversation.of(m, **meta) for m, meta in rows]


json_looking = st.sampled_from(["[1, 2]", '{"a": 1}', '[{"role": "user", "content": "x"}]', "[]", "{}", " [3]"])


@FAST
@given(st.lists(st.tuples(json_looking, json_looking), min_size=1, max_size=4),
       st.sampled_from(["messages", "sharegpt", "qa", "alpaca"]))
def test_csv_keeps_contents_that_look_like_json_as_strings(tmp_path_factory, pairs, target):
    """A CSV cell is text: only the format's message-list column is decoded, so a question such
    as "[1, 2]" comes back as the string it was."""
    from validation import convert, read

    conversations_ = [Conversation.of([{"role": "user", "content": q}, {"role": "assistant", "content": a}])
                      for q, a in pairs]
    out = tmp_path_factory.mktemp("csv") / "out.csv"
    rows = [get_format("messages").from_conversation(c) for c in conversations_]
    assert convert(rows, out, to=target, format="messages").valid == len(rows)
    assert list(read(out, format=target)) == conversations_
    assert validate(out, format=target).valid == len(rows)


def test_alpaca_and_qa_refuse_what_they_cannot_hold():
    multi = Conversation.of([{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                             {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}])
    for target in ("alpaca", "qa", "text"):
        try:
            get_format(target).from_conversation(multi)
        except CannotConvert as exc:
            assert str(exc)
        else:
            raise AssertionError(f"{target} accepted a multi-turn conversation")


@given(st.lists(st.text(st.characters(codec="utf-8"), max_size=30) | st.sampled_from(["a<|im_end|>b", "x\x07"])))
def test_suspects_flags_the_same_texts_with_polars_and_with_python(texts):
    from validation.checks.messages import suspects
    from validation.checks.rules import CHATML

    for rules in (None, CHATML, get_template("chatml").rules):
        assert suspects(texts, rules) == suspects(texts, rules, polars=False)


@FAST
@given(tool_conversations(), st.sampled_from(ROUND_TRIP))
def test_tool_conversations_convert_to_each_format_and_back_unchanged(case, target):
    messages, tools = case
    conversation = Conversation.of(messages, tools=tools, parallel_tool_calls=True)  # OpenAI's fine-tuning layout
    fmt = get_format(target)
    row = json.loads(json.dumps(fmt.from_conversation(conversation)))
    raw, back_meta = fmt.split(row)
    assert Conversation.of(raw, **back_meta) == conversation


@FAST
@given(tool_conversations())
def test_sharegpt_writes_calls_and_results_as_function_call_and_observation_turns(case):
    messages, tools = case
    row = get_format("sharegpt").from_conversation(Conversation.of(messages, tools=tools))
    sources = [turn["from"] for turn in row["conversations"]]
    assert sources.count("observation") == sum(m["role"] == "tool" for m in messages)
    assert sources.count("function_call") == sum(bool(m.get("tool_calls")) and m["content"] == "" for m in messages)


@FAST
@given(tool_conversations(), st.sampled_from(["messages", "sharegpt"]))
def test_valid_tool_conversations_raise_no_issue_and_a_bad_argument_exactly_one(case, layout):
    messages, tools = case
    row = get_format(layout).from_conversation(Conversation.of(messages, tools=tools))
    assert validate([row]).issues == []
    broken = json.loads(json.dumps(messages))
    at = next(i for i, m in enumerate(broken) if m.get("tool_calls"))
    function = broken[at]["tool_calls"][0]["function"]
    arguments = json.loads(function["arguments"]) if isinstance(function["arguments"], str) else function["arguments"]
    function["arguments"] = {**arguments, "unexpected": 1} if function["name"] == "get_weather" else \
        {k: v for k, v in arguments.items() if k != "query"}
    row = get_format(layout).from_conversation(Conversation.of(broken, tools=tools))
    issues = validate([row]).issues
    root = "messages" if layout == "messages" else "conversations"
    assert [(i.path, i.code) for i in issues] == [(f"{root}[{at}].tool_calls[0].function.arguments",
                                                   "arguments-mismatch")]


# Ways a valid tool-calling row goes wrong, for the fast path of rows that declare tools.
def _break_tool_row(row: dict, how: str, at: int, value: str) -> dict:
    messages = row["messages"]
    m = messages[at % len(messages)]
    calls = [c for x in messages for c in x.get("tool_calls") or []]
    call = calls[at % len(calls)]
    results = [x for x in messages if x["role"] == "tool"]
    if how == "drop":
        messages.pop(at % len(messages))
    elif how == "drop-result":
        messages.remove(results[at % len(results)])
    elif how == "control":
        m["content"] = f"a{chr(at % 32)}b\x7f"
    elif how == "content":
        m["content"] = value
    elif how == "role":
        m["role"] = value
    elif how == "call-name":
        call["function"]["name"] = "get_time"
    elif how == "arguments":
        call["function"]["arguments"] = [{"city": 3}, {"query": "q", "x": 1}, "{", [], None, {}][at % 6]
    elif how == "call-id":
        for c in calls:
            c["id"] = "call_1"
    elif how == "answer-id":
        results[at % len(results)]["tool_call_id"] = "call_9"
    elif how == "answer-name":
        result = results[at % len(results)]
        result["name"] = "search_products" if result.get("name") == "get_weather" else "get_weather"
    elif how == "tools":
        row["tools"] = [[], "[", [{"name": ""}], row["tools"][:1], None][at % 5]
    elif how == "parallel":
        row["parallel_tool_calls"] = False
    elif how == "reasoning":  # a field the precise path reads (and hashes)
        messages[-1]["reasoning_content"] = value or "because"
    elif how == "train":
        messages[-1]["train"] = value
    elif how == "swap":
        messages[at % len(messages)], messages[-1] = messages[-1], messages[at % len(messages)]
    return row


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(tool_conversations(), st.sampled_from(["none", "drop", "drop-result", "control", "content", "role", "call-name", "arguments", "call-id",
                                               "answer-id", "answer-name", "tools", "parallel", "swap", "reasoning",
                                               "train"]),
       st.integers(0, 20), st.sampled_from(["", " ", "x\x07y", "<|im_start|>", "user", "tool", "system", "System"]),
       st.sampled_from([None, "chatml", "qwen2.5", "llama3.1"]))
def test_fast_path_for_tool_rows_clears_only_rows_the_precise_path_finds_clean(conversation, how, at, value,
                                                                               template):
    from validation.checks.messages import fast_clean_tools, message_dup_text, suspect_tokens

    messages, tools = conversation
    row = _break_tool_row({"messages": messages, "tools": tools}, how, at, value)
    rules = get_template(template).rules if template else None
    text = fast_clean_tools(row["messages"], row, rules)
    checked, issues = check_messages(row["messages"], 1, lambda i, f: f"messages[{i}].{f}", "messages", rules,
                                     fields=row)
    if text is not None:
        assert issues == [] and message_dup_text(checked) == text  # clean, and hashed as the precise path hashes it
    suspect = any(token in str(m.get("content")) for m in row["messages"] for token in suspect_tokens(rules))
    if how == "none" and not suspect:  # an unbroken row the precise path finds clean is cleared fast (think
        assert (text is None) == (issues != []), issues  # tags and special tokens go to the precise path by design)

"""validation/readers/formats.py: detection (by majority over a sample), each format's fields and roles, on real data."""

from __future__ import annotations

import json

import pytest

from validation import InputError, read, validate


GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def _rows_with_one_off(n: int, good, bad_row: int, bad: dict) -> str:
    return "".join(json.dumps(bad if i == bad_row else good(i)) + "\n" for i in range(1, n + 1))


def test_gsm8k_validates_clean_as_qa(gsm8k):
    report = validate(gsm8k)
    assert (report.format, report.rows, report.valid, report.invalid, report.issues) == ("qa", 1319, 1319, 0, [])


def test_detection_reads_a_sample_not_the_first_row(tmp_path):
    path = tmp_path / "mixed.jsonl"
    path.write_text('{"question": "q", "answer": "a"}\n{"instruction": "i", "output": "o"}\n')
    with pytest.raises(InputError, match="cannot tell the format"):
        validate(path)


def test_the_stack_smol_content_column_is_text(tmp_path):
    path = tmp_path / "code.jsonl"
    path.write_text(json.dumps({"content": "def f():\n    return 1\n", "lang": "python"}) + "\n")
    report = validate(path)
    assert (report.format, report.valid, report.issues) == ("text", 1, [])  # no prompt is expected: no warning
    [conversation] = read(path)
    assert conversation.messages[0].role == "assistant" and conversation.metadata == {"lang": "python"}


def test_sharegpt_roles_map_per_the_table_and_unknown_ones_are_named(tmp_path):
    rows = [{"conversations": [{"from": "system", "value": "s"}, {"from": "human", "value": "q"},
                               {"from": "function_call", "value": '{"name": "f", "arguments": {"x": 1}}'},
                               {"from": "observation", "value": "42"}, {"from": "gpt", "value": "a"}],
             "tools": [{"name": "f", "parameters": {"type": "object"}}]},
            {"conversations": [{"from": "Human", "value": "q"}, {"from": "bard", "value": "a"}]}]
    report = validate(rows)
    assert [(i.row, i.path, i.code) for i in report.issues] == [
        (2, "conversations[0].from", "role-wrong-case"), (2, "conversations[1].from", "unknown-role")]
    [conversation] = read(rows[:1])
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert conversation.messages[2].tool_calls[0].function.name == "f"


def test_a_row_that_is_not_an_object_is_reported_not_raised():
    report = validate([GOOD[0], ["user", "hi"], None], format="messages")
    assert [(i.row, i.code, i.message) for i in report.issues] == [
        (2, "not-an-object", "expected a JSON object, got array"),
        (3, "not-an-object", "expected a JSON object, got null")]


@pytest.mark.parametrize(("n", "good", "bad", "expected"), [
    (300, lambda i: {"instruction": f"Say {i}", "output": str(i)}, {"instruction": "Say 6"},
     ("alpaca", 6, "output", "missing-field")),
    (300, lambda i: {"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "Hello"}]},
     {"msgs": []}, ("messages", 6, "messages", "missing-field")),
    (3, lambda i: {"question": f"q{i}", "answer": "a"}, {"question": "q3"}, ("qa", 3, "answer", "missing-field")),
    (50_000, lambda i: {"messages": [{"role": "user", "content": f"Hi {i}"}, {"role": "assistant", "content": "Yo"}]},
     {"msgs": []}, ("messages", 6, "messages", "missing-field")),
])
def test_format_detection_survives_a_bad_row_by_majority(cli, tmp_path, n, good, bad, expected):
    name, row, path, code = expected
    source = tmp_path / "data.jsonl"
    text = _rows_with_one_off(n, good, row, bad)
    source.write_text(text)
    result = cli("validate", str(source), "--json", "--write-clean", str(tmp_path / "clean.jsonl"))
    assert result.code == 1
    report = result.json()
    assert (report["format"], report["rows"], report["valid"], report["invalid"]) == (name, n, n - 1, 1)
    assert [(i["row"], i["path"], i["code"]) for i in report["issues"]] == [(row, path, code)]
    lines = text.splitlines(keepends=True)
    assert (tmp_path / "clean.jsonl").read_text() == "".join(lines[:row - 1] + lines[row:])


def test_a_near_tie_between_formats_exits_2_naming_each_with_its_row_count(cli, tmp_path):
    source = tmp_path / "tie.jsonl"
    source.write_text("".join(json.dumps({"question": f"q{i}", "answer": "a"}) + "\n" for i in range(10))
                      + "".join(json.dumps({"instruction": f"i{i}", "output": "o"}) + "\n" for i in range(8)))
    result = cli("validate", str(source))
    assert result.code == 2
    assert result.err == (f"instructkit validate: error: {source}: cannot tell the format from the first 18 rows "
                          "(qa fits 10 of 18, alpaca fits 8 of 18); name it with --format\n")


@pytest.mark.parametrize(("row", "hint"), [
    ({"message": [{"role": "user", "content": "hi"}]},
     "did you mean 'messages'? `--format messages --column message` reads the field as it is (or rename it to "
     "'messages')"),
    ({"Messages": []}, "did you mean 'messages'? `--format messages --column Messages` reads the field as it is "
                       "(or rename it to 'messages')"),
    ({"txt": "hello"}, "did you mean 'text'? `--format text --column txt` reads the field as it is (or rename it "
                       "to 'text')"),
    ({"questions": "q", "answer": "a"}, "did you mean 'question' (format qa)? rename the field, or name the format "
                                        "with --format"),
    ({"conversation": []}, "did you mean 'conversations' (format sharegpt)? rename the field, or name the format "
                           "with --format"),
    ({"prompt": "p", "response": "r"}, "--map response=completion reads them as prompt-completion"),
    ({"input": "p", "output": "r"}, "--map input=prompt,output=completion reads them as prompt-completion"),
    ({"question": "p", "response": "r"}, "--map response=answer reads them as qa"),
    ({"Instruction": "p", "Response": "r"}, "--map Instruction=instruction,Response=output reads them as alpaca"),
    ({"prompt": "p", "reply_to": "r"}, "name it with --format"),  # nothing spelled close: no guess
    ({"foo": 1}, "name it with --format"),
])
def test_a_field_spelled_close_to_a_formats_own_is_named_with_the_option_that_reads_it(cli, tmp_path, row, hint):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps(row) + "\n" + json.dumps(row) + "\n", encoding="utf-8")
    result = cli("validate", path)
    fields = ", ".join(sorted(row))
    assert result.code == 2 and result.err == (f"instructkit validate: error: {path}: cannot tell the format from the "
                                               f"first 2 rows (fields: {fields}); {hint}\n")


def test_the_option_the_hint_names_reads_the_misspelled_field(cli, tmp_path):
    path = tmp_path / "d.jsonl"
    path.write_text(json.dumps({"message": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]})
                    + "\n", encoding="utf-8")
    result = cli("validate", path, "--format", "messages", "--column", "message", "--json")
    assert result.code == 0 and (result.json()["format"], result.json()["valid"]) == ("messages", 1)

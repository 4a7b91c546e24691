"""validation/convert.py: conversion between formats, what a target cannot hold, exact numbers, Parquet columns."""

from __future__ import annotations

import json

import pytest

from validation import convert, validate


GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def test_gsm8k_converts_to_messages_with_question_as_user_and_answer_as_assistant(gsm8k, tmp_path, cli):
    out = tmp_path / "gsm8k.messages.jsonl"
    result = cli("convert", gsm8k, "-o", out, "--from", "qa", "--to", "messages")
    assert result.code == 0
    source = [json.loads(line) for line in gsm8k.read_text(encoding="utf-8").splitlines()]
    converted = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert len(converted) == 1319
    assert converted[0] == {"messages": [{"role": "user", "content": source[0]["question"]},
                                         {"role": "assistant", "content": source[0]["answer"]}]}
    assert validate(out).valid == 1319


def test_convert_reports_rows_the_target_cannot_hold(cli, tmp_path):
    source = tmp_path / "multi.jsonl"
    rows = [GOOD[0], {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                                   {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}]
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"
    result = cli("convert", source, "-o", out, "--to", "alpaca", "--json")
    assert result.code == 1
    report = result.json()
    assert [(i["row"], i["code"]) for i in report["issues"]] == [(2, "cannot-convert")]
    assert [json.loads(line) for line in out.read_text().splitlines()] == [
        {"id": 0, "instruction": "q0", "input": "", "output": "a0"}]


def test_convert_keeps_integers_wider_than_64_bits(tmp_path):
    source = tmp_path / "big.jsonl"
    source.write_text('{"id": 123456789012345678901234567890, "question": "q", "answer": "a"}\n')
    out = tmp_path / "out.jsonl"
    convert(source, out, to="messages")
    assert json.loads(out.read_text())["id"] == 123456789012345678901234567890


def test_prompt_completion_parquet_takes_message_lists_for_every_row_once_one_needs_them(cli, tmp_path):
    import datasets

    plain = {"messages": [{"role": "user", "content": "u"}, {"role": "assistant", "content": "a"}]}
    system = {"messages": [{"role": "system", "content": "s"}, *plain["messages"]]}
    as_lists = [{"prompt": [{"role": "user", "content": "u"}], "completion": [{"role": "assistant", "content": "a"}]},
                {"prompt": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"}],
                 "completion": [{"role": "assistant", "content": "a"}]}]
    for rows, expected in (([plain, plain], [{"prompt": "u", "completion": "a"}] * 2),
                           ([plain, system], as_lists), ([system, plain], as_lists[::-1])):
        source = tmp_path / "in.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in rows))
        for out in (tmp_path / "out.parquet", tmp_path / "out.jsonl"):
            assert cli("convert", source, "-o", out, "--to", "prompt-completion").code == 0
            kind = "parquet" if out.suffix == ".parquet" else "json"
            assert datasets.load_dataset(kind, data_files=str(out), split="train").to_list() == expected


def test_parquet_output_names_the_column_whose_type_changes(cli, tmp_path):
    source = tmp_path / "meta.jsonl"
    source.write_text("".join(json.dumps({**GOOD[0], "id": value}) + "\n" for value in (1, 2, "x3")))
    result = cli("convert", source, "-o", tmp_path / "out.parquet", "--to", "sharegpt")
    assert result.code == 2 and "out.parquet: column 'id' is int in written row 1 and string in written row 3; " \
        "Parquet holds one type per column and integers of 64 bits: write .jsonl or .json instead" in result.err


def test_parquet_output_refuses_integers_wider_than_64_bits_with_the_column(cli, tmp_path):
    source = tmp_path / "wide.json"
    source.write_text('[{"question": "q", "answer": "a", "id": 123456789012345678901234567890},'
                      ' {"question": "", "answer": "b"}]')
    result = cli("validate", source, "--write-clean", tmp_path / "clean.parquet")
    assert result.code == 2 and "clean.parquet: column 'id' holds an integer wider than 64 bits in written row 1" \
        in result.err and "internal error" not in result.err
    assert cli("validate", source, "--write-clean", tmp_path / "clean.json").code == 1  # JSON holds it
    assert json.loads((tmp_path / "clean.json").read_text())[0]["id"] == 123456789012345678901234567890


MULTI_TURN = {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                           {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}


@pytest.mark.parametrize("name", ["out.jsonl", "out.json", "out.parquet", "out.csv", "out.jsonl.gz"])
def test_convert_with_no_row_converted_writes_no_file_and_says_so(cli, tmp_path, name):
    source = tmp_path / "multi.jsonl"
    source.write_text(json.dumps(MULTI_TURN) + "\n" + json.dumps(MULTI_TURN) + "\n")
    out = tmp_path / name
    result = cli("convert", source, "-o", out, "--to", "alpaca")
    assert result.code == 1 and not out.exists()
    assert result.err.splitlines()[0] == f"no row of 2 could be converted to alpaca: {out} was not written"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["multi.jsonl"]  # no temporary file left either


def test_convert_with_no_row_converted_leaves_a_file_already_there_as_it_was(cli, tmp_path):
    source = tmp_path / "multi.jsonl"
    source.write_text(json.dumps(MULTI_TURN) + "\n")
    out = tmp_path / "out.jsonl"
    out.write_text('{"instruction": "kept", "output": "as it was"}\n')
    result = cli("convert", source, "-o", out, "--to", "alpaca", "--json")
    assert result.code == 1 and result.json()["valid"] == 0
    assert [(i["row"], i["code"]) for i in result.json()["issues"]] == [(1, "cannot-convert")]
    assert out.read_text() == '{"instruction": "kept", "output": "as it was"}\n'
    report = convert([MULTI_TURN], out, to="qa")  # the library does the same
    assert (report.rows, report.valid) == (1, 0) and out.read_text().startswith('{"instruction": "kept"')


def test_convert_of_an_empty_source_writes_an_empty_file(cli, tmp_path):
    source, out = tmp_path / "empty.jsonl", tmp_path / "out.jsonl"
    source.write_text("")
    result = cli("convert", source, "-o", out, "--from", "messages", "--to", "sharegpt")
    assert result.code == 0 and out.read_text() == ""
    assert result.err.splitlines()[0] == f"wrote 0 of 0 rows to {out} (sharegpt)"

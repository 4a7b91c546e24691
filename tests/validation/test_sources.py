"""Readers and formats on real data: gsm8k in every file kind, detection, hub errors, exit code 2."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from validation import Conversation, InputError, InvalidRow, convert, read, to_dataset, validate
from validation.io import write_rows

GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def test_gsm8k_validates_clean_as_qa(gsm8k):
    report = validate(gsm8k)
    assert (report.format, report.rows, report.valid, report.invalid, report.issues) == ("qa", 1319, 1319, 0, [])


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


@pytest.mark.parametrize("suffix", [".jsonl", ".json", ".parquet", ".csv"])
def test_every_file_kind_reads_the_same_conversations(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    write_rows(path, GOOD)
    conversations = list(read(path))
    expected = [Conversation.of(row["messages"], id=row["id"]) for row in GOOD]
    if suffix == ".csv":  # CSV cells are text: ids come back as strings
        expected = [Conversation.of(row["messages"], id=str(row["id"])) for row in GOOD]
    assert conversations == expected
    assert validate(path).valid == 3


def test_save_to_disk_folder_reads_and_validates(tmp_path):
    import datasets

    datasets.Dataset.from_list(GOOD).save_to_disk(tmp_path / "ds")
    report = validate(tmp_path / "ds")
    assert (report.format, report.rows, report.valid) == ("messages", 3, 3)


def test_to_dataset_holds_the_valid_conversations(tmp_path):
    rows = [*GOOD, {"messages": [{"role": "user", "content": "no reply"}]}]
    dataset = to_dataset(rows)
    assert dataset.num_rows == 3
    assert dataset[0]["messages"] == GOOD[0]["messages"]


def test_read_raises_on_the_first_invalid_row_with_its_path():
    rows = [GOOD[0], {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "x"}]}]
    with pytest.raises(InvalidRow, match=r"^row 2, messages\[0\]\.content: null-content: content is null$"):
        list(read(rows))


def test_hub_id_offline_is_one_clear_input_error(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(InputError, match=r"^HuggingFaceTB/smoltalk: could not load dataset from the Hugging Face hub"):
        validate("HuggingFaceTB/smoltalk")


@pytest.mark.parametrize("args, says", [
    (["stats", "nobody/no-dataset"], "nobody/no-dataset: could not load dataset from the Hugging Face hub"),
    (["validate", "{data}", "--max-length", "9", "--tokenizer", "nobody/no-model"],
     "nobody/no-model: cannot load a tokenizer"),
])
def test_an_unreachable_hub_fails_at_once_instead_of_retrying(args, says, tmp_path):
    """Without a network (the hub's name does not resolve) the hub clients go to the local cache
    straight away: no 'Retrying in 8s' lines, one error that says why."""
    import os
    import subprocess
    import sys

    data = tmp_path / "data.jsonl"
    data.write_text(json.dumps(GOOD[0]) + "\n")
    env = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE",
                                                             "TRANSFORMERS_OFFLINE")}
    env.update(HF_ENDPOINT="https://hub.invalid", HF_HOME=str(tmp_path / "hf"))  # .invalid never resolves
    command = [sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main(sys.argv[1:]))",
               *(a.format(data=data) for a in args)]
    result = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert result.returncode == 2
    assert says in result.stderr and "hub.invalid does not resolve, so only the local cache was tried" in result.stderr
    assert "Retrying" not in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize(("args", "message"), [
    (["missing.jsonl"], "missing.jsonl: no such file or directory"),
    (["{tmp}"], "is a directory, not a dataset file or a `save_to_disk` folder"),
    (["{tmp}/data.txt"], "unknown file type '.txt'"),
    (["{tmp}/data.jsonl", "--format", "yaml"], "unknown format 'yaml'"),
    (["{tmp}/data.jsonl", "--template", "llama-3.5"], "unknown template 'llama-3.5'"),
    (["{tmp}/odd.jsonl"], "cannot tell the format from the first 1 rows (fields: foo)"),
])
def test_unusable_input_exits_2_with_one_line(cli, tmp_path, args, message):
    (tmp_path / "data.txt").write_text("x")
    (tmp_path / "data.jsonl").write_text(json.dumps(GOOD[0]) + "\n")
    (tmp_path / "odd.jsonl").write_text('{"foo": 1}\n')
    result = cli("validate", *[a.format(tmp=tmp_path) for a in args])
    assert result.code == 2
    assert message in result.err
    assert result.err.count("\n") == 1 and result.out == ""


def test_bad_arguments_exit_2(cli):
    assert cli("validate").code == 2
    assert cli("validate", "x.jsonl", "--max-length", "many").code == 2


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
                               {"from": "observation", "value": "42"}, {"from": "gpt", "value": "a"}]},
            {"conversations": [{"from": "Human", "value": "q"}, {"from": "bard", "value": "a"}]}]
    report = validate(rows)
    assert [(i.row, i.path, i.code) for i in report.issues] == [
        (2, "conversations[0].from", "role-wrong-case"), (2, "conversations[1].from", "unknown-role")]
    [conversation] = read(rows[:1])
    assert [m.role for m in conversation.messages] == ["system", "user", "assistant", "tool", "assistant"]
    assert conversation.messages[2].tool_calls[0].function.name == "f"


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


def test_a_row_that_is_not_an_object_is_reported_not_raised():
    report = validate([GOOD[0], ["user", "hi"], None], format="messages")
    assert [(i.row, i.code, i.message) for i in report.issues] == [
        (2, "not-an-object", "expected a JSON object, got array"),
        (3, "not-an-object", "expected a JSON object, got null")]


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


def _compress(path, suffix):
    import bz2
    import gzip
    import lzma

    out = path.with_name(path.name + suffix)
    out.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix](path.read_bytes()))
    return out


@pytest.mark.parametrize("suffix", [".gz", ".bz2", ".xz"])
def test_compressed_gsm8k_validates_converts_and_counts_as_the_plain_file(gsm8k, tmp_path, suffix):
    from validation import stats

    plain = tmp_path / "test.jsonl"
    plain.write_bytes(gsm8k.read_bytes())
    packed = _compress(plain, suffix)
    assert validate(packed).to_json() | {"path": ""} == validate(plain).to_json() | {"path": ""}
    assert stats(packed).summary == stats(plain).summary
    convert(packed, tmp_path / "a.jsonl", to="messages")
    convert(plain, tmp_path / "b.jsonl", to="messages")
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()


def test_compressed_broken_rows_report_the_same_rows_and_write_the_same_clean_lines(tmp_path):
    from tests.validation.test_broken_rows import BROKEN

    for path in sorted(BROKEN.glob("*.jsonl")):
        plain = tmp_path / path.name
        plain.write_bytes(path.read_bytes())
        packed = _compress(plain, ".gz")
        a = validate(packed, template="chatml", write_clean=tmp_path / "a.jsonl").to_json()
        b = validate(plain, template="chatml", write_clean=tmp_path / "b.jsonl").to_json()
        assert a["issues"] == b["issues"] and a["rows"] == b["rows"], path.name
        assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes(), path.name


@pytest.mark.parametrize("name", ["data.json", "data.csv"])
def test_compressed_json_arrays_and_csv_read_the_same_conversations(tmp_path, name):
    plain = tmp_path / name
    write_rows(plain, GOOD)
    assert list(read(_compress(plain, ".xz"))) == list(read(plain))


@pytest.mark.parametrize("content, says", [
    (None, "cannot read it as gzip data (Compressed file ended before the end-of-stream marker was reached)"),
    (b"this is not gzip data", "cannot read it as gzip data (Not a gzipped file"),
])
def test_a_damaged_compressed_file_is_one_clear_line(cli, gsm8k, tmp_path, content, says):
    import gzip

    path = tmp_path / "data.jsonl.gz"
    path.write_bytes(content if content is not None else gzip.compress(gsm8k.read_bytes())[:20_000])
    for command in ("validate", "stats"):
        result = cli(command, path)
        assert result.code == 2 and f"{path}: {says}" in result.err


def test_a_compressed_file_must_hold_a_known_kind(cli, tmp_path):
    path = tmp_path / "notes.txt.gz"
    path.write_bytes(b"")
    result = cli("validate", path)
    assert result.code == 2 and "notes.txt.gz: unknown file type '.txt.gz'; a compressed file must hold .jsonl, " \
        ".json or .csv" in result.err


@pytest.mark.parametrize("name", ["out.jsonl.gz", "out.json.bz2", "out.csv.xz"])
def test_outputs_are_compressed_when_their_name_says_so(cli, gsm8k, tmp_path, name):
    from validation.io import open_bytes

    out = tmp_path / name
    assert cli("convert", gsm8k, "-o", out, "--to", "messages").code == 0
    with open_bytes(out) as f:
        assert f.read(1) in (b"{", b"[", b"m")  # the decompressed text: a JSON row, an array, the CSV header
    plain = tmp_path / name.rsplit(".", 1)[0]
    assert cli("convert", gsm8k, "-o", plain, "--to", "messages").code == 0
    assert list(read(out)) == list(read(plain))


def test_write_clean_and_render_compress_their_output_too(cli, tmp_path):
    import gzip

    from tests.validation.test_broken_rows import BROKEN

    source = BROKEN / "null-content.jsonl"
    assert cli("validate", source, "--write-clean", tmp_path / "clean.jsonl.gz").code == 1
    lines = source.read_bytes().splitlines(keepends=True)
    assert gzip.decompress((tmp_path / "clean.jsonl.gz").read_bytes()) == lines[0] + lines[2]
    assert cli("render", BROKEN / "duplicate.jsonl", "--template", "chatml", "-o", tmp_path / "r.jsonl.gz").code == 0
    rendered = [json.loads(line) for line in gzip.decompress((tmp_path / "r.jsonl.gz").read_bytes()).splitlines()]
    assert len(rendered) == 4 and rendered[0]["text"].startswith("<|im_start|>user\n")


def test_parquet_cannot_be_compressed_again(cli, gsm8k, tmp_path):
    result = cli("convert", gsm8k, "-o", tmp_path / "out.parquet.gz", "--to", "messages")
    assert result.code == 2 and "out.parquet.gz: cannot write '.parquet.gz'; only .jsonl, .json and .csv can be " \
        "compressed" in result.err


def _rows_with_one_off(n: int, good, bad_row: int, bad: dict) -> str:
    return "".join(json.dumps(bad if i == bad_row else good(i)) + "\n" for i in range(1, n + 1))


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


def test_a_fifo_or_a_device_is_refused_at_once_instead_of_read_forever(cli, tmp_path):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)  # nobody writes to it: opening it would wait for ever
    for path in (fifo, Path("/dev/zero")):
        result = cli("validate", str(path))
        assert result.code == 2
        assert result.err == (f"instructkit validate: error: {path}: not a regular file (a FIFO, socket or device); "
                              "save the data to a file first\n")

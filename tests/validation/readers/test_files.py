"""validation/readers/files.py: every file kind, compressed files, hub and disk datasets, unusable inputs (exit 2)."""

from __future__ import annotations

import json

import os

from pathlib import Path

import pytest

from validation import Conversation, InputError, convert, read, validate

from validation.outputs import write_rows
from templating import get_template


GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def _compress(path, suffix):
    import bz2
    import gzip
    import lzma

    out = path.with_name(path.name + suffix)
    out.write_bytes({".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}[suffix](path.read_bytes()))
    return out


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
    (["{tmp}"], "is a directory, not a dataset file, a `save_to_disk` folder or a dataset repository"),
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
        a = validate(packed, template=get_template("chatml"), write_clean=tmp_path / "a.jsonl").to_json()
        b = validate(plain, template=get_template("chatml"), write_clean=tmp_path / "b.jsonl").to_json()
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
    # a gzip header, then a stream that is not deflate: the decompressor's own error, not an internal one
    (b"\x1f\x8b\x08\x00 not gzip after all" * 3, "cannot read it as gzip data (Error -3 Invalid lookback distance"),
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
    from validation.readers.files import open_bytes

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


def test_a_fifo_or_a_device_is_refused_at_once_instead_of_read_forever(cli, tmp_path):
    fifo = tmp_path / "data.jsonl"
    os.mkfifo(fifo)  # nobody writes to it: opening it would wait for ever
    for path in (fifo, Path("/dev/zero")):
        result = cli("validate", str(path))
        assert result.code == 2
        assert result.err == (f"instructkit validate: error: {path}: not a regular file (a FIFO, socket or device); "
                              "save the data to a file first\n")

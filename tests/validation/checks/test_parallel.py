"""JSONL scanned in blocks, by worker processes, plain or compressed: the same report as one pass."""

from __future__ import annotations

import bz2
import gzip
import json
import lzma
import sys

import pytest

from tests.validation.test_broken_rows import BROKEN
from validation import validate
from validation.checks import parallel
from templating import get_template

COMPRESS = {"": lambda data: data, ".gz": gzip.compress, ".bz2": bz2.compress, ".xz": lzma.compress}


@pytest.fixture
def corpus(tmp_path):
    """Every broken-corpus line four times over (so rows repeat), with a BOM and a blank line."""
    lines = [line for path in sorted(BROKEN.glob("*.jsonl")) for line in path.read_bytes().removeprefix(b"\xef\xbb\xbf")
             .splitlines(keepends=True) if line.endswith(b"\n")]
    data = b"\xef\xbb\xbf" + b"".join(lines * 4) + b"\n" + json.dumps(
        {"messages": [{"role": "user", "content": "last"}, {"role": "assistant", "content": "row"}]}).encode() + b"\n"
    return tmp_path, data


def run(monkeypatch, path, workers, **options):
    monkeypatch.setattr(parallel, "BLOCK_BYTES", 700)  # many blocks, lines longer than a block too
    monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
    monkeypatch.setattr(parallel, "PARALLEL_MIN_COMPRESSED", 0)
    monkeypatch.setattr(sys.modules["validation.validate"], "default_workers", lambda: workers)
    return validate(path, format="messages", **options)


@pytest.mark.parametrize("suffix", list(COMPRESS))
def test_workers_and_blocks_report_what_one_pass_reports(monkeypatch, corpus, suffix):
    tmp, data = corpus
    path = tmp / f"d.jsonl{suffix}"
    path.write_bytes(COMPRESS[suffix](data))
    (tmp / "plain.jsonl").write_bytes(data)
    whole = validate(tmp / "plain.jsonl", format="messages", template=get_template("chatml"), write_clean=tmp / "whole.jsonl").to_json()
    for workers in (1, 3):
        for keep in (None, 1):
            found = run(monkeypatch, path, workers, template=get_template("chatml"), max_issues=keep,
                        issues_jsonl=tmp / "all.jsonl", write_clean=tmp / "clean.jsonl").to_json()
            listed = json.loads(json.dumps(whole["issues"]))
            if keep is not None:  # the first of each code
                listed = [i for n, i in enumerate(listed) if all(j["code"] != i["code"] for j in listed[:n])]
            assert found | {"path": "", "issues_left_out": 0} == whole | {"path": "", "issues": listed}, (workers, keep)
            assert found["issues_left_out"] == len(whole["issues"]) - len(listed)
            streamed = [json.loads(line) for line in (tmp / "all.jsonl").read_bytes().splitlines()]
            assert sorted(streamed, key=json.dumps) == sorted(whole["issues"], key=json.dumps)
            assert (tmp / "clean.jsonl").read_bytes() == (tmp / "whole.jsonl").read_bytes()


def test_a_truncated_gzip_file_is_one_line_naming_it(cli, corpus):
    tmp, data = corpus
    path = tmp / "cut.jsonl.gz"
    path.write_bytes(gzip.compress(data * 50)[:-200])
    result = cli("validate", str(path))
    assert result.code == 2 and result.out == ""
    assert result.err == (f"instructkit validate: error: {path}: cannot read it as gzip data (Compressed file "
                          "ended before the end-of-stream marker was reached)\n")

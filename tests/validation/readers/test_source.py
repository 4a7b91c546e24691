"""The dataset handle: a source is opened once per pass, and a `Dataset` serves many passes.

Opens are counted with an audit hook (every Python-level open raises the `open` audit event); a
forked worker's opens are counted too, through a descriptor it inherits.
"""

from __future__ import annotations

import gzip
import json
import mmap
import os

import pytest

from validation import Dataset, InputError, convert, open_dataset, stats, validate
from validation.checks import parallel
from templating import get_template

def _rows(n):
    return [{"messages": [{"role": "user", "content": f"안녕하세요 {i}?"},
                          {"role": "assistant", "content": f"네, {i} 입니다."}]} for i in range(n)] + \
        [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": ""}]}]


def _write(path, rows, opener=open):
    with opener(path, "wt", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz"])
@pytest.mark.parametrize("workers", [False, True])
def test_validate_opens_the_file_once_with_write_clean(tmp_path, opens, monkeypatch, name, workers):
    path = _write(tmp_path / name, _rows(3000), gzip.open if name.endswith(".gz") else open)
    if workers:  # forked workers read their ranges through the inherited descriptor
        monkeypatch.setattr(parallel, "PARALLEL_MIN_BYTES", 0)
        monkeypatch.setattr(parallel, "PARALLEL_MIN_COMPRESSED", 0)
        monkeypatch.setattr(parallel, "BLOCK_BYTES", 1 << 14)
        monkeypatch.setattr(parallel, "default_workers", lambda: 2)
    count = opens(path)
    report = validate(path, write_clean=tmp_path / "clean.jsonl")
    assert (report.rows, report.invalid, [(i.row, i.code) for i in report.issues]) == \
        (3001, 1, [(3001, "empty-content")])
    assert len((tmp_path / "clean.jsonl").read_text(encoding="utf-8").splitlines()) == 3000
    assert count() == 1


@pytest.mark.parametrize("name", ["data.jsonl", "data.jsonl.gz", "data.json"])
def test_stats_opens_the_file_once(tmp_path, opens, name):
    rows = _rows(50)
    if name == "data.json":
        (tmp_path / name).write_text(json.dumps(rows), encoding="utf-8")
        path = tmp_path / name
    else:
        path = _write(tmp_path / name, rows, gzip.open if name.endswith(".gz") else open)
    count = opens(path)
    assert stats(path).summary["rows"] == 51
    assert count() == 1


def test_convert_opens_the_file_once_even_when_it_relayouts(tmp_path, opens):
    # the second row needs the uniform layout after the first was written short: a second pass
    rows = [{"question": "1+1?", "answer": "2"},
            {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"},
                          {"role": "user", "content": "c"}, {"role": "assistant", "content": "d"}]}]
    path = _write(tmp_path / "in.jsonl", [{"messages": [{"role": "user", "content": "1+1?"},
                                                        {"role": "assistant", "content": "2"}]}, rows[1]])
    count = opens(path)
    report = convert(path, tmp_path / "out.jsonl", to="alpaca")
    assert report.rows == 2 and count() == 1


def test_audit_opens_the_file_once(tmp_path, opens, smollm2_tokenizer):
    from templating import audit

    path = _write(tmp_path / "data.jsonl", _rows(20))
    count = opens(path)
    report = audit(path, tokenizer=smollm2_tokenizer, template=get_template("smollm2"))
    assert report.rows == 21 and count() == 1


def test_one_dataset_serves_every_pass_and_stays_open(tmp_path, opens):
    path = _write(tmp_path / "data.jsonl", _rows(10))
    count = opens(path)
    with open_dataset(path) as data:
        assert (data.name, data.kind, data.format.name, data.size) == (str(path), "jsonl", "messages",
                                                                        path.stat().st_size)
        assert validate(data).invalid == 1
        assert stats(data).summary["rows"] == 11
        assert convert(data, tmp_path / "out.jsonl", to="sharegpt").valid == 11  # content problems carried
        assert [r.row for r in data.records()][-2:] == [10, 11]
    assert count() == 1
    with pytest.raises(InputError, match="closed"):
        validate(data)


def test_a_dataset_is_read_as_it_was_opened(tmp_path):
    path = _write(tmp_path / "data.jsonl", _rows(2))
    with open_dataset(path) as data:
        with pytest.raises(InputError, match="opened as messages, not sharegpt"):
            validate(data, format="sharegpt")
        assert validate(data, format="messages").rows == 3


def test_rows_from_an_iterator_are_read_once_with_a_clear_error_after(tmp_path):
    data = open_dataset(iter(_rows(2)))
    assert isinstance(data, Dataset) and data.kind == "rows"
    assert validate(data).rows == 3  # the detection sample is not lost
    with pytest.raises(InputError, match="read once; pass a list"):
        validate(data)
    listed = open_dataset(_rows(2))
    assert validate(listed).rows == validate(listed).rows == 3


def test_a_json_file_that_is_lines_is_told_apart_without_a_second_open(tmp_path, opens):
    path = _write(tmp_path / "lines.json", _rows(2))
    count = opens(path)
    with open_dataset(path) as data:
        assert data.kind == "jsonl"
    assert count() == 1


def test_the_open_count_sees_every_open_and_forked_ones(tmp_path, opens):
    """The counter itself: two readers are two opens, and an open in a forked child counts."""
    from validation import read_records

    path = _write(tmp_path / "data.jsonl", _rows(2))
    count = opens(path)
    list(read_records(path))
    list(read_records(path))
    pid = os.fork()
    if pid == 0:
        open(path, "rb").close()
        os._exit(0)
    os.waitpid(pid, 0)
    assert count() == 3


def test_mapped_gives_the_bytes_of_any_range_and_reads_where_it_cannot_map(tmp_path, monkeypatch):
    path = tmp_path / "rows.jsonl"
    data = b"".join(b'{"question": "q%d", "answer": "a"}\n' % i for i in range(5000))  # past one map granule
    path.write_bytes(data)
    granule = mmap.ALLOCATIONGRANULARITY
    ranges = [(0, None), (1, 10), (granule - 3, granule + 5), (granule, 2 * granule + 1), (len(data) - 1, len(data)),
              (7, 7)]
    with open_dataset(path) as dataset:
        for start, end in ranges:
            assert bytes(dataset.mapped(start, end)) == data[start:end]

        def cannot_map(*args, **kwargs):
            raise OSError(19, "No such device")  # what a file system without mmap answers

        monkeypatch.setattr(mmap, "mmap", cannot_map)
        for start, end in ranges:
            assert dataset.mapped(start, end) == data[start:end]

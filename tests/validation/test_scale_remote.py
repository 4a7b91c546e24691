"""Shards on fsspec filesystems (validation/scale/remote.py): listed through fsspec, fetched whole by the task that
reads each, and read as local shards are — the report, the converted rows and the summary of the shards joined into
one file. fsspec's own filesystems, no stand-in: `memory://` (tasks in this process) and a tar archive on disk read
through `tar://...::file://` (tasks in worker processes)."""

from __future__ import annotations

import gzip
import io
import tarfile
import uuid
from pathlib import Path

import pytest

from tests.validation.scale_helpers import compared, gsm8k_shards
from validation.errors import InputError
from validation.scale.run import validate_shards
from validation.scale.units import Checks
from validation.validate import validate


@pytest.fixture
def in_memory(tmp_path):
    """gsm8k's shards (with defects) in fsspec's memory filesystem, the middle one compressed: (their folder's URL,
    the shards joined into one local file); removed after."""
    import fsspec

    joined, shards = gsm8k_shards(tmp_path, shards=3)
    fs = fsspec.filesystem("memory")
    root = f"/shards-{uuid.uuid4().hex}"
    for n, shard in enumerate(shards):
        data = Path(shard).read_bytes()
        fs.pipe(f"{root}/{Path(shard).name}" + (".gz" if n == 1 else ""), gzip.compress(data) if n == 1 else data)
    yield f"memory://{root}", joined
    fs.rm(root, recursive=True)


def test_shards_in_memory_give_the_joined_files_report_rows_and_summary(in_memory, tmp_path):
    from validation.convert import convert
    from validation.scale.convert import Target, convert_shards
    from validation.scale.stats import stats_shards
    from validation.statistics.conversations import stats

    url, joined = in_memory
    single = validate(joined, write_clean=tmp_path / "a.jsonl")
    sharded = validate_shards([url], Checks(format=""), logs=tmp_path / "logs", tasks=2, workers=1,
                              write_clean=tmp_path / "b.jsonl")
    assert sharded is not None and compared(sharded) == compared(single)
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    assert [s.path for s in sharded.shards] == [f"{url}/part-000.jsonl", f"{url}/part-001.jsonl.gz",
                                                f"{url}/part-002.jsonl"]
    assert sharded.where(sharded.shards[1].first_row + 4) == f"{sharded.shards[1].first_row + 4} (part-001.jsonl.gz:5)"
    convert(joined, tmp_path / "c.jsonl", to="sharegpt")
    convert_shards([f"{url}/*.jsonl*"], tmp_path / "d.jsonl", Target("sharegpt"), logs=tmp_path / "conv", tasks=2,
                   workers=1)
    assert (tmp_path / "d.jsonl").read_bytes() == (tmp_path / "c.jsonl").read_bytes()
    described = stats_shards([url], Checks(format=""), logs=tmp_path / "stats", tasks=2, workers=1)
    assert described.summary.to_json() == stats(joined).summary.to_json()


def test_shards_in_a_tar_archive_are_read_by_worker_processes_from_the_command_line(cli, tmp_path):
    joined, shards = gsm8k_shards(tmp_path, shards=4)
    archive = tmp_path / "shards.tar"
    with tarfile.open(archive, "w") as tar:
        for shard in shards:
            tar.add(shard, arcname=f"train/{Path(shard).name}")
        tar.addfile(tarfile.TarInfo("train/README.md"), io.BytesIO(b""))  # (not a shard: left out of the folder)
    url = f"tar://train::file://{archive}"
    result = cli("validate", url, "--executor", "local", "--tasks", "2", "--logs", tmp_path / "logs", "--json")
    assert result.code == 1, result.err
    report = result.json()
    assert [s["path"] for s in report.pop("shards")] == [f"tar://train/{Path(s).name}::file://{archive}"
                                                         for s in shards]
    del report["path"]
    assert report == compared(validate(joined))
    assert not list(Path("/tmp").glob("instructkit-shard-*/part-00*.jsonl"))  # (each fetched copy removed)


def test_a_url_fsspec_cannot_open_or_that_names_nothing_is_refused_in_one_line(tmp_path, in_memory):
    url, _ = in_memory
    for given, said in ((f"{url}/nothing.jsonl", "no such file or folder"),
                        (f"{url}/*.parquet", "no file matches"),
                        ("nosuchprotocol://bucket/train.jsonl", "nosuchprotocol")):
        with pytest.raises(InputError, match=said):
            validate_shards([given], Checks(format=""), logs=tmp_path / "logs")

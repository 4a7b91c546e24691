"""Shards on any fsspec filesystem (`s3://`, `gs://`, `hf://`, `memory://`, `tar://PART::file:///shards.tar`...), as
datatrove reads its inputs: listed and described through fsspec when the run is planned, and fetched whole into a
local file by the task that reads one (then read as a local shard is, and removed).

Example:
    >>> is_remote("s3://bucket/train/part-000.jsonl.gz"), is_remote("train/part-000.jsonl.gz")
    (True, False)
"""

from __future__ import annotations

import glob
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from validation.errors import InputError, first_line

FETCH_BLOCK = 16 << 20  # bytes copied at a time from a remote shard


def is_remote(name: str) -> bool:
    """Whether `name` is a URL that fsspec reads (a protocol before `://`) rather than a local path."""
    return "://" in name.partition("::")[0]


@contextmanager
def _said(url: str) -> Iterator[None]:
    """What fsspec or the filesystem under it raises (an unknown protocol, a filesystem not installed — fsspec's line
    says what to install —, no network, no permission) as one InputError line naming `url`."""
    try:
        yield
    except InputError:
        raise
    except Exception as exc:  # noqa: BLE001 - every filesystem raises its own kinds (httpx, botocore, ...)
        raise InputError(f"{url}: {first_line(exc)} ({type(exc).__name__})") from None


def _filesystem(url: str) -> tuple[Any, str]:
    """(the fsspec filesystem of `url`, the path on it)."""
    import fsspec

    with _said(url):
        return fsspec.core.url_to_fs(url)


def remote_shards(given: str, suffixes: tuple[str, ...]) -> list[str]:
    """The shards a URL names, sorted: the file, a folder's files whose suffix (before a compression suffix) is one of
    `suffixes`, subfolders included, or a glob pattern's matches. Each as a URL of the same filesystem (a chained
    URL keeps its chain: `tar://a.jsonl::file:///x.tar`)."""
    from validation.readers.files import held_suffix

    fs, path = _filesystem(given)
    _, chained, chain = given.partition("::")
    with _said(given):
        if glob.has_magic(path):
            found = [p for p in fs.glob(path) if fs.isfile(p)]
            if not found:
                raise InputError(f"{given}: no file matches")
        elif fs.isdir(path):
            found = [p for p in fs.find(path) if held_suffix(Path(p)) in suffixes]
            if not found:
                raise InputError(f"{given}: a folder without JSONL or Parquet files (a sharded run reads "
                                 f"{', '.join(suffixes)}, compressed or not)")
        elif fs.isfile(path):
            found = [path]
        else:
            raise InputError(f"{given}: no such file or folder")
    return [fs.unstrip_protocol(p) + chained + chain for p in sorted(found)]


def remote_stat(url: str) -> tuple[int, str]:
    """(the size of the shard `url` names, what tells another version of it: its modification time or ETag)."""
    fs, path = _filesystem(url)
    with _said(url):
        info = fs.info(path)
    version = next((info[k] for k in ("mtime", "LastModified", "last_modified", "ETag", "etag", "created")
                    if info.get(k) is not None), "")
    return int(info.get("size") or 0), str(version)


@contextmanager
def fetched(url: str) -> Iterator[str]:
    """A local copy of the shard `url` names, for the block (named as the shard is: its suffixes tell what it holds);
    removed after it."""
    fs, path = _filesystem(url)
    folder = tempfile.mkdtemp(prefix="instructkit-shard-")
    try:
        local = Path(folder) / Path(path).name
        with _said(url), fs.open(path, "rb") as source, local.open("wb") as copy:
            shutil.copyfileobj(source, copy, FETCH_BLOCK)
        yield str(local)
    finally:
        shutil.rmtree(folder, ignore_errors=True)

"""What a dataset source is, and its name in messages: the first piece of the dataset handle.

A source is a path (JSONL, JSON array, Parquet, CSV, `save_to_disk` folder), a hub id, or an
iterable of row dicts. (The `Dataset` handle that opens a source once per pass lands here next.)
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from typing import Any

Source = str | os.PathLike[str] | Iterable[dict[str, Any]]


def is_path(source: Source) -> bool:
    """A path or hub id (text), rather than rows in memory."""
    return isinstance(source, (str, os.PathLike))


def source_name(source: Source) -> str:
    """How messages and reports name `source`: the path as given, or `<rows>`."""
    return os.fspath(source) if is_path(source) else "<rows>"

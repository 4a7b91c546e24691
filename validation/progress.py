"""Progress bars on stderr, on a terminal only: over the bytes of a source, or over a count of items."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from validation.readers.files import size_of
from validation.readers.source import Dataset, Source, is_path, source_name


@contextmanager
def progress_bar(source: Source, enabled: bool, what: str = "validating") -> Iterator[Any]:
    """A rich progress bar over the bytes of `source` (a path or an open `Dataset`) on stderr (a
    TTY only); yields `advance(n)` or None."""
    total = source.size if isinstance(source, Dataset) else size_of(source) if is_path(source) else None
    with _bar(enabled and total is not None, f"{what} {Path(source_name(source)).name}" if total else what,
              total, in_bytes=True) as advance:
        yield advance


@contextmanager
def count_bar(enabled: bool, what: str, total: int) -> Iterator[Callable[[int], None]]:
    """A rich progress bar over `total` items on stderr (a TTY only); yields `advance(n)`, a no-op without a bar."""
    with _bar(enabled, what, total, in_bytes=False) as advance:
        yield advance or (lambda n: None)


@contextmanager
def _bar(enabled: bool, what: str, total: int | None, *, in_bytes: bool) -> Iterator[Any]:
    if not enabled or not sys.stderr.isatty():
        yield None
        return
    from rich.console import Console
    from rich.markup import escape
    from rich.progress import (BarColumn, DownloadColumn, MofNCompleteColumn, Progress, TimeRemainingColumn,
                               TransferSpeedColumn)

    columns = (DownloadColumn(), TransferSpeedColumn()) if in_bytes else (MofNCompleteColumn(),)
    with Progress("[progress.description]{task.description}", BarColumn(), *columns, TimeRemainingColumn(),
                  console=Console(stderr=True), transient=True) as bar:
        task = bar.add_task(escape(what), total=total)  # a file name is text, not rich markup
        yield lambda n: bar.advance(task, n)

"""Stats' C reader, started before Polars is imported.

A JSONL file of a list-of-messages format (`messages`, `sharegpt`), plain or compressed, is read
by `_rowscan.read_messages` in threads over line-aligned parts of it (of what it decompresses
to); a plain file's parts are mapped, not copied (`Dataset.mapped`). The C reader lets go of the
GIL, so `stats` starts the parts here, before it imports Polars, numpy and pyarrow (0.2-0.3 s in
a fresh process), and `validation.statistics.frames` turns each part into frames as it comes. This
module imports none of them.

Example:
    >>> from validation.readers.source import open_dataset
    >>> rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]}]
    >>> with open_dataset(rows) as data:
    ...     c_readable(data)
    False
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from types import TracebackType

from validation import _rowscan
from validation.errors import InputError
from validation.readers.files import readable
from validation.checks.parallel import blocks, default_workers, line_ranges
from validation.readers.formats import Format
from validation.readers.source import Dataset

PART_BYTES = 256 << 20  # the C reader's parts: about this size at most, the same number per core
COMPRESSED_PART = 32 << 20  # parts of a compressed file, decompressed one after the other
# what _rowscan.read_messages says when the mapped file shrank under it; said here when it shrank after
SHRANK = "the file changed while it was read (it is shorter now); read it again once nothing writes to it"

Part = tuple[bytes | memoryview, tuple]  # a part's bytes and what read_messages made of them


def c_readable(data: Dataset) -> bool:
    """Whether the C reader reads `data`: a JSONL file of a list-of-messages format."""
    return data.format.raw is not None and data.kind == "jsonl" and not data.renamed


def keys_of(fmt: Format) -> tuple:
    """What `_rowscan.read_messages` is told of a list-of-messages format: its list, role and content keys, and its
    roles' names (None: as they are)."""
    shape = fmt.raw
    assert shape is not None
    return (shape.list_key.encode(), shape.role_key.encode(), shape.content_key.encode(),
            None if shape.roles is None else {k.encode(): v.encode() for k, v in shape.roles.items()})


class Parts:
    """The parts of `data` (which `c_readable` accepts) being read in threads from the moment this
    is made; `results()` gives them in file order. A context manager: leaving it waits for the
    threads."""

    def __init__(self, data: Dataset) -> None:
        assert data.path is not None
        self.data = data
        keys = keys_of(data.format)

        def parse(chunk: bytes | memoryview, first: bool) -> Part:
            return chunk, _rowscan.read_messages(chunk, *keys, first, data.max_row_bytes)

        def read(span: tuple[int, int]) -> Part:
            try:  # the part mapped, not copied; the C reader lets other threads run
                return parse(data.mapped(*span), span[0] == 0)
            except OSError as error:  # the file shrank while the C reader read it (SHRANK), or cannot be read
                raise InputError(f"{data.name}: {error}") from None

        workers = default_workers()
        self._pool = ThreadPoolExecutor(workers)
        self._end = 0  # where the last part of a plain file ends
        try:
            if data.compression is None:
                rounds = -(-(data.size or 0) // (PART_BYTES * workers))  # every core gets the same number of parts
                spans = line_ranges(data, workers * max(rounds, 1)) or [(0, 0)]  # an empty file: one empty part
                self._end = spans[-1][1]
                self._futures = [self._pool.submit(read, span) for span in spans]
            else:  # decompressed here, part by part, while the threads read the parts before
                with readable(data.path), data.stream() as f:
                    self._futures = [self._pool.submit(parse, block, n == 0)
                                     for n, block in enumerate(blocks(f, part=COMPRESSED_PART, limit=data.max_row_bytes))]
                if not self._futures:
                    self._futures = [self._pool.submit(parse, b"", True)]
        except BaseException:
            self.close()
            raise

    def results(self) -> Iterator[Part]:
        """Each part as its thread finishes it, in file order; then, for a plain file, whether it
        is still as long (Polars reads the maps next)."""
        for future in self._futures:
            yield future.result()
        if self.data.compression is None and (self.data.size or 0) < self._end:
            raise InputError(f"{self.data.name}: {SHRANK}")

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> Parts:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 trace: TracebackType | None) -> None:
        self.close()

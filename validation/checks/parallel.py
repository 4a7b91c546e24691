"""Validate a JSONL file as raw lines, in line-aligned blocks, in this process or several.

A plain file is cut into byte ranges that forked worker processes read themselves, through the
descriptor of the one open they inherit (`source.Window`); a compressed one
(`.gz`, `.bz2`, `.xz`) is decompressed here, in blocks, and the blocks are checked by the
workers (or here, for a small file). Either way every block of lines meets `Scanner.check_block`
(the C prover splits and reads it first), results come back in file order, and at most a few
blocks are in flight, so memory does not grow with the file.
"""

from __future__ import annotations

import contextlib
import io
import os
import tempfile
from array import array
from collections import Counter, deque
from collections.abc import Callable, Iterator
from typing import Any, BinaryIO

from validation.readers.decode import MAX_ROW_BYTES
from validation.readers.files import line_blocks, open_bytes, readable, skip_line
from validation.report import Findings
from validation.checks.scan import Scanner
from validation.readers.source import WINDOW_BUFFER, Dataset, Window

BLOCK_BYTES = 4 << 20  # lines are read and checked about this many bytes at a time
PARALLEL_MIN_BYTES = 32 << 20  # a plain file this large is shared between processes
PARALLEL_MIN_COMPRESSED = 4 << 20  # and a compressed one this large


def line_ranges(data: Dataset, parts: int) -> list[tuple[int, int]]:
    """Byte ranges of the (plain) file of `data`, each starting at the beginning of a line."""
    size = data.size or 0
    bounds = [0]
    with data.window() as f:
        for k in range(1, parts):
            f.seek(max(size * k // parts, bounds[-1]))
            skip_line(f)  # to the next line's start, however long this one is
            bounds.append(min(f.tell(), size))
    bounds.append(size)
    return [(a, b) for a, b in zip(bounds, bounds[1:]) if b > a]


def blocks(f: BinaryIO, size: int | None = None, *, part: int | None = None,
           limit: int = MAX_ROW_BYTES) -> Iterator[bytes]:
    """`io.line_blocks` of about BLOCK_BYTES (or `part`) bytes each: `size` bytes of `f` (a range
    that ends at a line's end) or everything left, lines over `limit` bytes skipped unread."""
    return line_blocks(f, size, part=part or BLOCK_BYTES, limit=limit)


def scan_blocks(scanner: Scanner, findings: Findings, parts: Iterator[bytes],
                progress: Callable[[int], None] | None = None, *, first: bool = True,
                settle: bool = True) -> tuple[int, int, array]:
    """(lines, records, invalid rows in order) of consecutive blocks of whole lines, the first of
    them at the file's start when `first` (a BOM there is skipped); issues go into `findings`,
    duplicates are resolved as they gather when `settle`."""
    lines = records = 0
    invalid = array("q")
    for block in parts:
        count, kept, issues, bad = scanner.check_block(block, lines, first=first and lines == 0)
        findings.add(issues)
        lines += count
        records += kept
        invalid.extend(bad)
        if settle and scanner.duplicates is not None:
            scanner.duplicates.settle(findings)
        if progress is not None:
            progress(len(block))
    return lines, records, invalid


def scan_jsonl(data: Dataset, scanner: Scanner, findings: Findings, *, workers: int,
               progress: Callable[[int], None] | None = None) -> tuple[int, array]:
    """(records, invalid rows in order) of a JSONL dataset, plain or compressed, its issues put
    in `findings`: checked in this process, or in `workers` forked ones when the file is large
    enough to pay for them. `progress` counts bytes of the file itself."""
    size = data.size or 0
    compressed = data.compression is not None
    parallel = workers > 1 and size >= (PARALLEL_MIN_COMPRESSED if compressed else PARALLEL_MIN_BYTES)
    limit = data.max_row_bytes
    assert data.path is not None
    with readable(data.path), data.window() as raw, open_bytes(data.path, raw) as f:
        parts: Iterator[Any]
        if compressed and parallel:  # decompressed here, by a thread, while the workers check
            parts, progress = _ahead(_read(blocks(f, limit=limit), raw, progress)), None
        elif compressed:  # progress: counted as the file is read
            parts, progress = _read(blocks(f, limit=limit), raw, progress), None
        else:
            parts = iter(line_ranges(data, workers * 8)) if parallel else blocks(f, limit=limit)
        if parallel:
            return _scan_parallel(data.fd(), parts, scanner, findings, workers, progress, limit)
        _, records, invalid = scan_blocks(scanner, findings, parts, progress)
    return records, invalid


def _read(parts: Iterator[Any], raw: BinaryIO, progress: Callable[[int], None] | None) -> Iterator[Any]:
    """`parts`, reporting to `progress` how far into the (compressed) file `raw` they reach."""
    done = 0
    for block in parts:
        yield block
        if progress is not None:
            progress(raw.tell() - done)
            done = raw.tell()


def _ahead(parts: Iterator[bytes], depth: int = 2) -> Iterator[bytes]:
    """`parts`, produced by a thread up to `depth` ahead: ISA-L and the other decompressors let
    other threads run, so decompressing overlaps with handing blocks to the workers."""
    import queue
    import threading

    done = object()
    ready: queue.Queue[Any] = queue.Queue(depth)
    stop = threading.Event()

    def produce() -> None:
        try:
            for part in parts:
                if stop.is_set():
                    return
                ready.put(part)
            ready.put(done)
        except BaseException as exc:  # re-raised in the consuming thread (a damaged file)
            ready.put(exc)

    thread = threading.Thread(target=produce, daemon=True)
    thread.start()
    try:
        while (item := ready.get()) is not done:
            if isinstance(item, BaseException):
                raise item
            yield item
    finally:
        stop.set()
        while thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                ready.get(timeout=0.01)
        thread.join()


# --- several processes ---------------------------------------------------------------------------

_WORKER: Scanner | None = None


def _scan_part(task: tuple[Any, bool, int | None, bool, int]) -> tuple[int, int, Findings, str | None, array,
                                                                    tuple[array, array, array] | None, Any]:
    """In a worker: (lines, records, findings, the file spooling every finding or None, invalid
    rows, hashes, what the corpus checks gathered) of a byte range (file descriptor, start, end)
    or a block of lines (`first`: the file's first block), rows relative to it."""
    scanner = _WORKER
    assert scanner is not None
    scanner.forked = True  # no Polars in a forked process
    part, first, keep, spool, limit = task
    with tempfile.NamedTemporaryFile("wb", suffix=".jsonl", delete=False) if spool else open(os.devnull, "wb") as out:
        findings = Findings(keep, out if spool else None)
        if isinstance(part, bytes):
            lines, records, invalid = scan_blocks(scanner, findings, iter([part]), first=first, settle=False)
        else:
            fd, start, end = part
            # (a buffer smaller than a block: each block is read straight into its bytes, never copied through it)
            with io.BufferedReader(Window(fd, start, end), WINDOW_BUFFER) as f:
                lines, records, invalid = scan_blocks(scanner, findings, blocks(f, end - start, limit=limit),
                                                      first=start == 0, settle=False)
    findings.stream = None  # written and closed: the file's name goes back instead
    findings.labels, scanner.labels = scanner.labels, Counter()
    hashes = scanner.duplicates.take() if scanner.duplicates is not None else None
    return lines, records, findings, out.name if spool else None, invalid, hashes, scanner.take_corpus()


def _scan_parallel(fd: int, parts: Iterator[Any], scanner: Scanner, findings: Findings, workers: int,
                   progress: Callable[[int], None] | None, limit: int) -> tuple[int, array]:
    """(records, invalid rows in order) of the parts (byte ranges of open file `fd`, or blocks of lines),
    checked by `workers` forked processes, at most two parts per worker in flight; a worker reading a
    range skips its lines over `limit` bytes."""
    import multiprocessing

    global _WORKER
    _WORKER = scanner
    spool = findings.stream is not None  # every finding is wanted: workers write theirs to a file
    offset = records = 0
    invalid = array("q")
    try:
        with multiprocessing.get_context("fork").Pool(workers) as pool:
            pending: deque[Any] = deque()
            for n, part in enumerate(parts):
                if isinstance(part, tuple):  # a byte range: the worker reads it itself
                    part = (fd, *part)
                pending.append((pool.apply_async(_scan_part, ((part, n == 0, findings.keep, spool, limit),)), part))
                while len(pending) > 2 * workers or (pending and pending[0][0].ready()):
                    offset, records = _collect(*pending.popleft(), scanner, findings, invalid, offset, records, progress)
            while pending:
                offset, records = _collect(*pending.popleft(), scanner, findings, invalid, offset, records, progress)
    finally:
        _WORKER = None
    return records, invalid


def _collect(result: Any, part: Any, scanner: Scanner, findings: Findings, invalid: array, offset: int, records: int,
             progress: Callable[[int], None] | None) -> tuple[int, int]:
    """Take one part's result, its rows moved by `offset`; the new (offset, records)."""
    lines, count, found, spooled, bad, hashes, corpus = result.get()
    if spooled is not None:
        findings.replay(spooled, offset)
        findings.labels.update(found.labels)
    else:
        findings.merge(found, offset)
    invalid.extend(r + offset for r in bad)
    if hashes is not None and scanner.duplicates is not None:
        scanner.duplicates.add([r + offset for r in hashes[0]], hashes[1], hashes[2])
        scanner.duplicates.settle(findings)
    scanner.add_corpus(corpus, offset)
    if progress is not None and isinstance(part, tuple):
        progress(part[2] - part[1])
    return offset + lines, records + count


def default_workers() -> int:
    """Processes for a large file: the CPUs this process may use, at most 8."""
    return min(8, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)

"""The dataset handle: a source opened once, its format known, read by every pass through it.

A source is a path (JSONL, JSON array, Parquet, CSV, `save_to_disk` folder), a hub id, an
iterable of row dicts, or a `Dataset` already opened. `open_dataset` opens a file once (a hub
or disk dataset is loaded once), detects the format from the first rows, and hands out
`records()` as often as a pass needs them. The fast paths read the same open file by byte
ranges (`window`): threads and forked worker processes each read their own range of it with
`pread` (stats' reader maps its ranges instead: `mapped`), so nothing opens the file again.

Example:
    >>> with open_dataset([{"question": "1+1?", "answer": "2"}]) as data:
    ...     data.name, data.kind, data.format.name, [r.row for r in data.records()]
    ('<rows>', 'rows', 'qa', [1])
"""

from __future__ import annotations

import difflib
import io
import mmap
import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from itertools import chain, islice
from pathlib import Path
from typing import Any, BinaryIO

from validation.readers.columns import Columns, suggest
from validation.readers.decode import MAX_ROW_BYTES, json_type
from validation.errors import InputError
from validation.readers.formats import FORMAT_NAMES, Format, clear_winner, get_format, rank_formats
from validation.readers.files import (BOM, FILE_KINDS, Record, compression_of, dataset_records, decode_list_cells,
                                      kind_of, load_hf_dataset, open_bytes, read_file, readable)
from validation.report import Issue

HF_KINDS = ("disk", "hub", "repo")  # loaded by `datasets` (save_to_disk folder, hub id, repository folder)
DETECT_SAMPLE = 200  # rows the format is detected from
WINDOW_BUFFER = 1 << 20
MAP_POPULATE = getattr(mmap, "MAP_POPULATE", 0)  # Linux: the pages mapped at once, not one fault each


def is_path(source: Any) -> bool:
    """A path or hub id (text), rather than rows in memory or a `Dataset`."""
    return isinstance(source, (str, os.PathLike))


def source_name(source: Any) -> str:
    """How messages and reports name `source`: the path as given, or `<rows>`."""
    if isinstance(source, Dataset):
        return source.name
    return os.fspath(source) if is_path(source) else "<rows>"


class Window(io.RawIOBase):
    """Bytes `start`..`end` of an open file descriptor, read with `pread`: any number of windows
    (threads, forked worker processes) read one open file, each at its own position."""

    def __init__(self, fd: int, start: int = 0, end: int | None = None) -> None:
        super().__init__()
        self.fd, self.start = fd, start
        self.end = os.fstat(fd).st_size if end is None else end
        self.position = start

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        wanted = min(len(buffer), self.end - self.position)
        if wanted <= 0:
            return 0
        view = memoryview(buffer).cast("B")[:wanted]
        n = os.preadv(self.fd, [view], self.position)
        self.position += n
        return n

    def readall(self) -> bytes:
        """The rest of the window in one `pread` (the GIL let go): `RawIOBase.readall` would read it
        8 KiB at a time through Python and join the pieces (a 164 MB part: 0.5 s instead of 0.15 s)."""
        parts = []
        while self.position < self.end:
            data = os.pread(self.fd, self.end - self.position, self.position)
            if not data:  # the file shrank under us: what was there
                break
            parts.append(data)
            self.position += len(data)
        return parts[0] if len(parts) == 1 else b"".join(parts)  # none: b""

    def seek(self, offset: int, whence: int = io.SEEK_SET) -> int:
        base = {io.SEEK_SET: self.start, io.SEEK_CUR: self.position, io.SEEK_END: self.end}[whence]
        self.position = max(self.start, base + offset)
        return self.position - self.start

    def tell(self) -> int:
        return self.position - self.start


@dataclass(frozen=True, eq=False)
class Dataset:
    """A source opened once: its `name` in messages, `kind` (jsonl, json, parquet, csv, disk,
    hub or rows), `format`, `split`, and its records from the start on every `records()` call.
    A file stays open until `close()` (or the `with` block) ends; then nothing reads it."""

    name: str
    kind: str
    format: Format
    split: str = "train"
    path: Path | None = None  # the file or folder, for file and disk kinds
    _file: BinaryIO | None = field(default=None, repr=False)  # the one open of a file
    _rows: Any = field(default=None, repr=False)  # rows in memory, or the loaded `datasets.Dataset`
    _once: list[Iterator[Record]] = field(default_factory=list, repr=False)  # rows given as an iterator
    max_row_bytes: int = MAX_ROW_BYTES  # a JSONL line longer than this is an error, skipped unread
    columns: Columns | None = None  # fields renamed as rows are read (--map); the raw fast paths then stand aside
    _held: Any = field(default=None, repr=False)  # the UTF-8 copy of a file read with --encoding (removed at close)
    # the folder relative image paths are read from: --image-root, else the file's folder (a folder itself);
    # None for rows in memory (the working directory)
    image_root: Path | None = None

    def in_source(self, issue: Issue) -> Issue:
        """`issue` with its path into the row as the source names it (`response`, not `completion`)."""
        if not self.columns or not issue.path:
            return issue
        return issue.model_copy(update={"path": self.columns.source_path(issue.path)})

    @property
    def renamed(self) -> bool:
        """Whether rows are renamed as they are read: readers of raw bytes (validate's line scan, stats'
        C reader) would see the source's names, so they leave such a dataset to `records()`."""
        return bool(self.columns)

    @property
    def compression(self) -> str | None:
        """How the file is compressed (`gzip`, `bz2`, `lzma`), None for a plain file or no file."""
        return compression_of(self.path) if self._file is not None and self.path is not None else None

    @property
    def size(self) -> int | None:
        """Bytes of the file as stored (compressed or not); None when the source is no file."""
        return os.fstat(self.fd()).st_size if self._file is not None else None

    def window(self, start: int = 0, end: int | None = None) -> BinaryIO:
        """Bytes `start`..`end` of the file as stored, buffered, at its own position."""
        return io.BufferedReader(Window(self.fd(), start, end), WINDOW_BUFFER)  # type: ignore[return-value]

    def mapped(self, start: int = 0, end: int | None = None) -> bytes | memoryview:
        """Bytes `start`..`end` of the file as stored, through a read-only memory map: no copy (a
        `pread` of a part copies it into fresh memory first, 0.06 s per 100 MB on a 2-core VM).
        The view keeps the map open. Read by a window instead where the file cannot be mapped.

        A program that truncates the file while it is mapped takes the pages past its new end
        away; reading one raises SIGBUS (`_rowscan.read_messages` turns it into OSError)."""
        end = self.size if end is None else end
        assert end is not None
        if end <= start:
            return b""
        aligned = start - start % mmap.ALLOCATIONGRANULARITY
        try:
            view = mmap.mmap(self.fd(), end - aligned, offset=aligned, flags=mmap.MAP_SHARED | MAP_POPULATE,
                             prot=mmap.PROT_READ)
        except (OSError, ValueError, AttributeError):  # not mappable here (or no longer that long)
            with self.window(start, end) as f:
                return f.read()
        return memoryview(view)[start - aligned:]

    def stream(self) -> BinaryIO:
        """The file's content from the start, decompressed when it is compressed."""
        assert self.path is not None
        return open_bytes(self.path, self.window())

    @property
    def rereadable(self) -> bool:
        """Can `records()` be read once more? (Not for rows given as an iterator, once read.)"""
        return self._file is not None or self.kind in HF_KINDS or bool(self._once) or self._rows is not None

    def records(self, *, precise: bool = False, progress: Callable[[int], None] | None = None) -> Iterator[Record]:
        """Every row from the first, as `Record`s; `precise` keeps every number exact (what is
        written back); `progress(n)` is told the bytes of the file read."""
        if self._file is not None:
            assert self.path is not None
            records = read_file(self.path, self.kind, self.window(), precise=precise, progress=progress,
                                limit=self.max_row_bytes)
        elif self.kind in HF_KINDS:
            records = dataset_records(self._rows)
        elif self._once:
            records = self._once.pop()
        elif self._rows is None:
            raise InputError(f"{self.name}: rows given as an iterator are read once; pass a list to read them again")
        else:
            records = _row_records(self._rows)
        if self.columns:
            records = _renamed(records, self.columns)
        if self.kind == "csv" and self.format is not _UNKNOWN:  # message lists are JSON text there
            records = decode_list_cells(records, self.format.list_fields)
        return records

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
        if self._held is not None:
            self._held.cleanup()

    def __enter__(self) -> Dataset:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def fd(self) -> int:
        """The open file's descriptor (forked workers inherit it and read with `Window`)."""
        if self._file is None:
            raise InputError(f"{self.name}: not a file")
        if self._file.closed:
            raise InputError(f"{self.name}: the dataset was closed")
        return self._file.fileno()


def _renamed(records: Iterator[Record], columns: Columns) -> Iterator[Record]:
    """`records` with their fields renamed by `columns`; a row where a renamed field would overwrite
    one it has is a `column-clash` error on its row."""
    for record in records:
        if isinstance(record.data, dict):
            try:
                record = Record(record.row, columns.rename(record.data), record.raw)
            except ValueError as clash:
                field_name, message = clash.args
                record = Record(record.row, Issue.make(record.row, field_name, "column-clash", message), record.raw)
        yield record


def _row_records(rows: Iterable[Any]) -> Iterator[Record]:
    for i, row in enumerate(rows, 1):
        yield Record(i, row if isinstance(row, dict) else Issue.make(
            i, "", "not-an-object", f"expected a JSON object, got {json_type(row)}"))


def open_dataset(source: Source, *, format: str | None = None, column: str | None = None,
                 split: str = "train", max_row_bytes: int | None = None,
                 columns: str | dict[str, str] | Columns | None = None, subset: str | None = None,
                 encoding: str | None = None, image_root: str | os.PathLike[str] | None = None) -> Dataset:
    """`source` opened once, its format named or detected over the first DETECT_SAMPLE rows. A
    JSONL line longer than `max_row_bytes` (default `MAX_ROW_BYTES`, 256 MiB) is a `row-too-large`
    error on its row, read past without being held. `columns` renames fields as rows are read
    (`"response=completion"` or `{"response": "completion"}`; validation/readers/columns.py).
    `subset` names a hub dataset's configuration (`datasets.load_dataset(path, subset)`). `encoding`
    names the text encoding of a file that is not UTF-8 (`cp949`): it is read through a UTF-8 copy.
    `image_root`: the folder relative image paths are read from (default: the file's folder).

    Raises:
        InputError: the source cannot be used (missing, not a dataset, unknown or undetectable
            format, hub offline); `UnknownName` for an unknown format name.
    """
    mapping = columns if isinstance(columns, Columns) or columns is None else Columns.parse(columns)
    if isinstance(source, Dataset):
        _same(source, format, column, split, mapping)
        return source if image_root is None else replace(source, image_root=Path(image_root))
    if max_row_bytes is None:
        max_row_bytes = MAX_ROW_BYTES
    elif isinstance(max_row_bytes, bool) or not isinstance(max_row_bytes, int) or max_row_bytes < 1:
        raise InputError(f"max_row_bytes must be a whole number >= 1, not {max_row_bytes!r}")
    name = source_name(source)
    if is_path(source):
        path, held = transcoded(Path(source), encoding) if encoding is not None else (Path(source), None)
        raw = _open_file(path)
        try:
            kind = kind_of(path, first=lambda: _peek(path, raw)) if raw is not None else kind_of(path)
            if subset is not None and kind in FILE_KINDS:
                raise InputError(f"{name}: a file has no subsets; --subset {subset} names a hub dataset's "
                                 "configuration")
            rows = None if kind in FILE_KINDS else load_hf_dataset(str(source), kind=kind, split=split, subset=subset)
            handle = Dataset(name, kind, _UNKNOWN, split, path, raw if kind in FILE_KINDS else None, rows,
                             max_row_bytes=max_row_bytes, columns=mapping, _held=held,
                             image_root=Path(image_root) if image_root is not None else Path(source)
                             if kind == "disk" else Path(source).parent if kind in FILE_KINDS else None)
            return _with_format(handle, format, column)
        except BaseException:
            if raw is not None:
                raw.close()
            if held is not None:
                held.cleanup()
            raise
    once: list[Iterator[Record]] = []
    rows = source if isinstance(source, Sequence) else None
    if rows is None:  # an iterator: read once, its head kept for detection
        once.append(_row_records(source))
    return _with_format(Dataset(name, "rows", _UNKNOWN, split, None, None, rows, once, max_row_bytes, mapping,
                                image_root=Path(image_root) if image_root is not None else None), format, column)


@contextmanager
def dataset_of(source: Source, *, format: str | None = None, column: str | None = None,
               split: str = "train", max_row_bytes: int | None = None,
               columns: str | dict[str, str] | Columns | None = None,
               subset: str | None = None, encoding: str | None = None,
               image_root: str | os.PathLike[str] | None = None) -> Iterator[Dataset]:
    """`open_dataset` for one pass: a `Dataset` given is used as it is and left open, one opened
    here is closed when the block ends."""
    data = open_dataset(source, format=format, column=column, split=split, max_row_bytes=max_row_bytes,
                        columns=columns, subset=subset, encoding=encoding, image_root=image_root)
    try:
        yield data
    finally:
        if not isinstance(source, Dataset):
            data.close()


def transcoded(path: Path, encoding: str) -> tuple[Path, Any]:
    """(`path` as UTF-8, the temporary folder holding the copy or None): a file in `encoding` copied
    as UTF-8 (decompressed), block by block; a UTF-8 encoding needs no copy.

    Raises:
        InputError: an unknown encoding, no such file, or bytes that are not `encoding` text.
    """
    import codecs
    import tempfile

    try:
        codec = codecs.lookup(encoding)
    except LookupError:
        raise InputError(f"--encoding {encoding}: no such encoding (e.g. cp949, euc-kr, shift_jis, latin-1)") from None
    if codec.name in ("utf-8", "utf-8-sig"):
        return path, None
    if not path.is_file():
        kind_of(path)  # explains what the path is instead
        raise InputError(f"{path}: --encoding reads a file, not a folder or a hub dataset")
    held = tempfile.TemporaryDirectory(prefix="instructkit-encoding-")
    copy = Path(held.name) / (path.stem if compression_of(path) else path.name)  # data.csv.gz -> data.csv
    decoder = codecs.getincrementaldecoder(codec.name)(errors="strict")
    done = 0
    try:
        with readable(path), path.open("rb") as raw, open_bytes(path, raw) as src, open(copy, "wb") as out:
            while block := src.read(1 << 20):
                try:
                    out.write(decoder.decode(block).encode("utf-8", "surrogatepass"))
                except UnicodeDecodeError as exc:
                    raise InputError(f"{path}: not {encoding} text ({exc.reason} at byte {done + exc.start})") \
                        from None
                done += len(block)
            out.write(decoder.decode(b"", final=True).encode("utf-8", "surrogatepass"))
    except BaseException:
        held.cleanup()
        raise
    return copy, held


def _open_file(path: Path) -> BinaryIO | None:
    """The file opened for reading, None for a folder or a name that is not a file here (a hub id);
    kind_of explains a path that cannot be used."""
    if not path.is_file():
        return None
    try:
        return path.open("rb", buffering=0)  # type: ignore[return-value]
    except OSError as exc:
        raise InputError(f"{path}: cannot read it: {(exc.strerror or str(exc)).lower()}") from None


def _peek(path: Path, raw: BinaryIO) -> bytes:
    with open_bytes(path, io.BufferedReader(Window(raw.fileno()), 4096)) as f:  # type: ignore[arg-type]
        return f.read(4096)


class _Unknown:
    name = "?"


_UNKNOWN: Any = _Unknown()


def _with_format(data: Dataset, format: str | None, column: str | None) -> Dataset:
    """`data` with its format: the one named, or the one the first rows show."""
    if format is not None:
        fmt = get_format(format, column=column)  # UnknownName (an InputError) for an unknown name
        return replace(data, format=fmt)
    once = data.kind == "rows" and data._rows is None  # rows given as an iterator: read once, its head kept
    if once:
        given = data._once.pop()
        first = list(islice(given, DETECT_SAMPLE))
        data._once.append(iter(first))
    head = list(islice(data.records(), DETECT_SAMPLE))
    objects = [r.data for r in head if isinstance(r.data, dict)]
    ranked = rank_formats(objects, column=column)
    found = clear_winner(ranked, len(objects))
    if found is None:
        raise InputError(_what_it_is(data) or f"{data.name}: cannot tell the format from the first {len(head)} rows "
                         f"({_candidates(ranked, objects)}); {_did_you_mean(ranked, objects)}")
    if once:  # the iterator goes on after its head (renamed as it is read, like the rest)
        data._once.append(chain(first, given))
    return replace(data, format=found)


def _what_it_is(data: Dataset) -> str | None:
    """What a JSONL file that no format fits holds instead, when its first bytes tell: nothing, text in
    UTF-16 or UTF-32, or one JSON array; None otherwise."""
    if data.kind != "jsonl" or data.path is None:
        return None
    head = _peek(data.path, data._file) if data._file is not None else b""
    name = data.name
    if not head.strip():
        return f"{name}: the file is empty (no rows)"
    encoding = "UTF-32" if head.startswith((b"\xff\xfe\x00\x00", b"\x00\x00\xfe\xff")) else \
        "UTF-16" if head.startswith((b"\xff\xfe", b"\xfe\xff")) or head[:64].count(0) > 8 else None
    if encoding is not None:  # (without a BOM: many NUL bytes, the zero halves of ASCII characters)
        return (f"{name}: the text is {encoding}, not UTF-8; convert it first, e.g. "
                f"`iconv -f {encoding} -t UTF-8 {name} > {Path(name).with_suffix('.utf8.jsonl')}`")
    if head.removeprefix(BOM).lstrip()[:1] == b"[":
        return (f"{name}: holds one JSON array, not one JSON object a line; name it .json (it is read as an array "
                f"then), or convert it: `instructkit convert {Path(name).with_suffix('.json')} -o {name} --to messages`")
    return None


def _candidates(ranked: list[tuple[Format, int]], objects: list[dict[str, Any]]) -> str:
    """What detection saw: the formats that fit some rows and how many, else the fields."""
    if ranked:
        return ", ".join(f"{fmt.name} fits {n} of {len(objects)}" for fmt, n in ranked)
    keys = sorted({k for row in objects for k in row})
    return f"fields: {', '.join(keys) or 'none'}"


def _did_you_mean(ranked: list[tuple[Format, int]], objects: list[dict[str, Any]]) -> str:
    """What to do when no format fits: a field spelled close to a format's own field is named
    (`message` for `messages`), with the option that reads it as it is where one exists (the
    messages and text columns take `--column`); else: name the format."""
    if ranked:
        return "name it with --format"
    fields = sorted({k for row in objects for k in row if isinstance(k, str)})
    mapped = suggest(fields)
    if mapped is not None:
        return mapped
    known = {key: name for name in FORMAT_NAMES if name != "text" for key in get_format(name).keys}
    known.update({"text": "text", "content": "text"})
    for field_name in fields:
        close = difflib.get_close_matches(field_name.lower(), [k for k in known if k not in fields], n=1, cutoff=0.8)
        if close and close[0] != field_name:
            key, name = close[0], known[close[0]]
            if name in ("messages", "text"):
                return (f"did you mean {key!r}? `--format {name} --column {field_name}` reads the field as it is "
                        f"(or rename it to {key!r})")
            return f"did you mean {key!r} (format {name})? rename the field, or name the format with --format"
    return "name it with --format"


def _same(data: Dataset, format: str | None, column: str | None, split: str, columns: Columns | None) -> None:
    """A `Dataset` is read as it was opened: options that would open it otherwise are refused."""
    if format is not None and get_format(format, column=column).name != data.format.name:
        raise InputError(f"{data.name}: opened as {data.format.name}, not {format}; name the format in "
                         "open_dataset(..., format=)")
    if split != "train" and split != data.split:
        raise InputError(f"{data.name}: opened with split {data.split!r}, not {split!r}")
    if columns and columns != data.columns:
        raise InputError(f"{data.name}: opened without --map {columns.describe()}; name it in open_dataset(..., "
                         "columns=)")


Source = str | os.PathLike[str] | Iterable[dict[str, Any]] | Dataset

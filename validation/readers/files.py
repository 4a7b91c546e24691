"""Read rows from files, `save_to_disk` folders and hub datasets (`validation.outputs` writes them).

Every reader yields `Record(row, data, raw)`: `row` is the 1-based line number for JSONL and
the 1-based record number elsewhere; `data` is the decoded object or the `Issue` explaining why
it could not be decoded; `raw` is the line's bytes for JSONL (so valid rows can be written back
byte for byte) and None elsewhere. JSONL is streamed in bounded chunks: memory stays flat.
"""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import re
import socket
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from importlib import import_module
from pathlib import Path
from typing import Any, BinaryIO, NamedTuple
from urllib.parse import urlparse

from validation.readers.decode import MAX_ROW_BYTES, decode_row, loads_text, oversized
from validation.errors import InputError
from validation.report import Issue

BOM = b"\xef\xbb\xbf"
CHUNK_BYTES = 1 << 20
Progress = Callable[[int], None]


class Record(NamedTuple):
    row: int
    data: dict[str, Any] | Issue
    raw: bytes | None = None


# Compressed files (JSONL, JSON, CSV) are written with the standard library's compressors and
# read with its decompressors, except gzip: ISA-L's (`isal.igzip`, the same API) reads it about
# four times as fast as zlib, which is what keeps a .jsonl.gz near the plain file's speed.
COMPRESSIONS = {".gz": "gzip", ".bz2": "bz2", ".xz": "lzma"}
DECOMPRESSORS = {"gzip": "isal.igzip", "bz2": "bz2", "lzma": "lzma"}


def compression_of(source: str | os.PathLike[str]) -> str | None:
    """The decompressor a file needs (`gzip`, `bz2`, `lzma`), by its last suffix; None for a plain file."""
    return COMPRESSIONS.get(Path(source).suffix.lower())


def is_hub_id(text: str) -> bool:
    """Whether `text` is shaped as a hub id (`org/name`) rather than a path: one slash, no leading
    `.` or `/`, no file suffix. (Whether it exists on disk is the caller's to ask first.)

    Example:
        >>> is_hub_id("openai/gsm8k"), is_hub_id("data/chat.jsonl"), is_hub_id("./org/name")
        (True, False, False)
    """
    return text.count("/") == 1 and not text.startswith((".", "/")) and not Path(text).suffix


def kind_of(source: str | os.PathLike[str], first: Callable[[], bytes] | None = None) -> str:
    """Which reader handles `source`: jsonl, json, parquet, csv, disk or hub (a compressed file:
    the kind of what it holds, `data.jsonl.gz` is jsonl). `first` gives the file's first bytes
    (decompressed) when the caller has it open: a `.json` file is an array or JSON lines."""
    path = Path(source)
    if path.is_dir():
        if any((path / marker).exists() for marker in ("dataset_info.json", "state.json", "dataset_dict.json")):
            return "disk"
        if (path / "README.md").is_file():  # a dataset repository cloned from the hub: its card names the files
            return "repo"
        raise InputError(f"{path}: is a directory, not a dataset file, a `save_to_disk` folder or a dataset "
                         "repository (a folder with the hub's README.md)")
    if path.exists() and not path.is_file():  # reading would wait on a writer (FIFO) or never end (/dev/zero)
        raise InputError(f"{path}: not a regular file (a FIFO, socket or device); save the data to a file first")
    if path.exists():
        suffix = held_suffix(path)
        if compression_of(path):
            if suffix not in (".jsonl", ".ndjson", ".json", ".csv", ".tsv"):
                raise InputError(f"{path}: unknown file type {(suffix or '(none)') + path.suffix!r}; a compressed "
                                 "file must hold .jsonl, .json or .csv")
        if suffix in (".jsonl", ".ndjson"):
            return "jsonl"
        if suffix == ".json":
            return "json" if _first_byte(path, first) == b"[" else "jsonl"
        if suffix in (".parquet", ".pq"):
            return "parquet"
        if suffix in (".csv", ".tsv"):
            return "csv"
        raise InputError(f"{path}: unknown file type {suffix or '(none)'!r}; "
                         "expected .jsonl, .json, .parquet, .csv (the text ones also as .gz, .bz2, .xz) or a "
                         "save_to_disk folder")
    if is_hub_id(str(source)):
        return "hub"
    if path.is_symlink():
        try:
            path.stat()
        except OSError as exc:
            if exc.errno == errno.ELOOP:
                raise InputError(f"{path}: a symlink loop (its links point back to each other)") from None
        raise InputError(f"{path}: a symlink to {os.readlink(path)}, which does not exist")
    raise InputError(f"{path}: no such file or directory")


def _first_byte(path: Path, first: Callable[[], bytes] | None) -> bytes:
    with readable(path):
        if first is not None:
            head = first()
        else:
            with open_bytes(path) as f:
                head = f.read(4096)
    return head.removeprefix(BOM).lstrip()[:1]


@contextmanager
def readable(path: Path) -> Iterator[None]:
    """A compressed file that cannot be decompressed (truncated, not that format): one InputError."""
    import lzma
    import zlib

    from isal.igzip_lib import IsalError  # (ISA-L's gzip reader: a damaged stream)

    try:
        yield
    except (EOFError, OSError, lzma.LZMAError, zlib.error, IsalError) as exc:
        if compression_of(path) is None:
            raise
        raise InputError(f"{path}: cannot read it as {compression_of(path)} data ({exc})") from None


def open_bytes(path: Path, raw: BinaryIO | None = None) -> BinaryIO:
    """`path` opened for reading bytes, decompressed when its suffix says so (over `raw`, the
    file itself, when the caller wants to follow its position)."""
    raw = raw if raw is not None else path.open("rb")
    compression = compression_of(path)
    return raw if compression is None else import_module(DECOMPRESSORS[compression]).open(raw, "rb")


def read_records(source: str | os.PathLike[str], *, split: str = "train", precise: bool = False,
                 progress: Progress | None = None) -> Iterator[Record]:
    """Yield every row of `source` as a `Record`, in order (one open of the file; a
    `validation.readers.source.Dataset` reads through one open for many passes).

    Example:
        >>> import tempfile, pathlib
        >>> p = pathlib.Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = p.write_text('{"question": "1+1?", "answer": "2"}\\n\\nnot json\\n')
        >>> [(r.row, type(r.data).__name__) for r in read_records(p)]
        [(1, 'dict'), (3, 'Issue')]
    """
    kind = kind_of(source)
    if kind in FILE_KINDS:
        return _read_file(Path(source), kind, precise=precise, progress=progress)
    return dataset_records(load_hf_dataset(str(source), kind=kind, split=split))


def _read_file(path: Path, kind: str, *, precise: bool, progress: Progress | None) -> Iterator[Record]:
    with path.open("rb") as raw:
        yield from read_file(path, kind, raw, precise=precise, progress=progress)


FILE_KINDS = ("jsonl", "json", "parquet", "csv")


def read_file(path: Path, kind: str, raw: BinaryIO, *, precise: bool = False,
              progress: Progress | None = None, limit: int = MAX_ROW_BYTES) -> Iterator[Record]:
    """The records of file `path` of `kind` (one of FILE_KINDS), read from `raw`, its bytes as
    stored, from the start; `path` names it in messages and says how it is compressed. A JSONL
    line longer than `limit` bytes is a `row-too-large` issue, never read into memory."""
    if kind == "jsonl":
        return _read_jsonl(path, raw, precise=precise, progress=progress, limit=limit)
    return {"json": _read_json_array, "parquet": _read_parquet, "csv": _read_csv}[kind](path, raw)


def size_of(source: str | os.PathLike[str]) -> int | None:
    """Bytes to read for a progress bar, when `source` is a file."""
    path = Path(source)
    return path.stat().st_size if path.is_file() else None


def _read_jsonl(path: Path, raw: BinaryIO, *, precise: bool, progress: Progress | None,
                limit: int = MAX_ROW_BYTES) -> Iterator[Record]:
    row, done = 0, 0
    with readable(path), open_bytes(path, raw) as f:
        for block in line_blocks(f, part=CHUNK_BYTES, limit=limit):
            lines = io.BytesIO(block).readlines()  # split at b"\n" only, as a file's lines are
            if row == 0 and lines[0].startswith(BOM):
                lines[0] = lines[0][len(BOM):]
            for line in lines:
                row += 1
                if line.isspace():
                    continue
                yield Record(row, decode_row(line, row, precise=precise), line)
            if progress is not None:  # bytes of the file itself, compressed or not
                progress(raw.tell() - done)
                done = raw.tell()


def line_blocks(f: BinaryIO, size: int | None = None, *, part: int, limit: int = MAX_ROW_BYTES) -> Iterator[bytes]:
    """Blocks of whole lines, about `part` bytes each, one bytes object each, from `f`: `size`
    bytes (a range that ends at a line's end) or everything left. A line longer than `limit` bytes
    is read past, never held, and stands in its block as one `decode.oversized` line (so it
    is a `row-too-large` error on its row); a line longer than a block, within the limit, is one
    block. Memory stays bounded by `part` and `limit` whatever the input (a compression bomb of one
    line included)."""
    left, part = size, max(1, min(part, limit))  # a line inside one block is within the limit
    while left is None or left > 0:
        data = f.read(part if left is None else min(part, left))
        if not data:
            return
        taken = len(data)
        if not data.endswith(b"\n") and (left is None or taken < left):
            start = data.rfind(b"\n") + 1  # where the cut line starts
            rest, read, size = _rest_of_line(f, limit - (taken - start))
            taken += read
            data = data + rest if rest is not None else data[:start] + oversized(taken - start - size, limit)
        if left is not None:
            left -= taken
        yield data


def _rest_of_line(f: BinaryIO, room: int) -> tuple[bytes | None, int, int]:
    """(the rest of the current line, up to and including its newline, bytes read, 0) when it holds
    at most `room` bytes before its newline; else (None, bytes read to its end, none of them kept,
    the length of its newline: 1, or 0 at the end of the file)."""
    rest = f.readline(room + 1)
    if rest.endswith(b"\n") or len(rest) <= room:  # the line ends, or the file does, within the room
        return rest, len(rest), 0
    read, newline = skip_line(f)
    return None, len(rest) + read, newline


def lines_of(f: BinaryIO, limit: int = MAX_ROW_BYTES) -> Iterator[bytes]:
    """The lines of `f`, a line over `limit` bytes as the short line that stands for it
    (`line_blocks`)."""
    for block in line_blocks(f, part=CHUNK_BYTES, limit=limit):
        yield from io.BytesIO(block).readlines()


def skip_line(f: BinaryIO) -> tuple[int, int]:
    """Read past the rest of the current line, holding at most a chunk of it: (bytes read, the
    length of its newline: 1, or 0 at the end of the file)."""
    read = 0
    while chunk := f.readline(CHUNK_BYTES):
        read += len(chunk)
        if chunk.endswith(b"\n"):
            return read, 1
    return read, 0


def _read_json_array(path: Path, raw: BinaryIO) -> Iterator[Record]:
    from validation.readers.decode import DecodeError, loads

    try:
        with readable(path), open_bytes(path, raw) as f:
            value = loads(f.read().removeprefix(BOM), precise=True)
    except DecodeError as exc:
        raise InputError(f"{path}: not a valid JSON array: {exc}") from None
    if not isinstance(value, list):
        raise InputError(f"{path}: expected a JSON array of objects, got {type(value).__name__}")
    for index, item in enumerate(value, start=1):
        if isinstance(item, dict):
            yield Record(index, item)
        else:
            yield Record(index, Issue.make(index, "", "not-an-object",
                                           f"expected a JSON object, got {type(item).__name__}"))


def _read_parquet(path: Path, raw: BinaryIO) -> Iterator[Record]:
    import pyarrow.parquet as pq

    try:
        parquet = pq.ParquetFile(raw)
    except Exception as exc:  # pyarrow raises several unrelated types for a bad file
        raise InputError(f"{path}: not a readable Parquet file: {exc}") from None
    row = 0
    for batch in parquet.iter_batches(batch_size=4096):
        for item in batch.to_pylist():
            row += 1
            yield Record(row, item)


def _read_csv(path: Path, raw: BinaryIO) -> Iterator[Record]:
    """CSV cells are text, as they are: which of them hold message lists as JSON only the format
    knows (`decode_list_cells`), and a content such as "[1, 2]" must stay a string."""
    delimiter = "\t" if held_suffix(path) == ".tsv" else ","
    with readable(path), io.TextIOWrapper(open_bytes(path, raw), newline="", encoding="utf-8-sig", errors="strict") as f:
        try:
            reader = csv.DictReader(f, delimiter=delimiter)
            for index, item in enumerate(reader, start=1):
                extra = item.pop(None, None)  # cells past the header's columns (DictReader's restkey)
                if extra is None:
                    yield Record(index, dict(item))
                else:
                    header = len(reader.fieldnames or ())
                    yield Record(index, Issue.make(index, "", "csv-extra-cells", f"the row has {header + len(extra)} "
                                                   f"cells, the header {header}: quote a cell that holds the "
                                                   f"delimiter {delimiter!r}, or name every column in the header"))
        except UnicodeDecodeError as exc:
            raise InputError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start}){encoding_hint(path, raw)}") \
                from None


def encoding_hint(path: Path, raw: BinaryIO) -> str:
    """What a text that is not UTF-8 probably is, and the two ways to read it (`--encoding`, or
    converting it once with iconv); "" when no guess can be made. Korean Excel saves CSV as cp949."""
    try:
        from charset_normalizer import from_bytes
    except ImportError:  # (a dependency; a trimmed install still gets the error itself)
        return ""
    raw.seek(0)
    with open_bytes(path, raw) as f:
        head = f.read(1 << 16)
    best = from_bytes(head).best()
    if best is None or best.encoding in ("utf_8", "ascii"):
        return ""
    name = best.encoding.replace("_", "-")
    target = Path(path.name).with_suffix(".utf8" + held_suffix(path))
    return (f"; it is probably {name}: read it with --encoding {name}, or convert it once: "
            f"`iconv -f {name.upper()} -t UTF-8 {path.name} > {target}`")


def decode_list_cells(records: Iterable[Record], fields: frozenset[str]) -> Iterator[Record]:
    """CSV records with the cells of `fields` (a format's message-list fields) decoded where they
    hold a JSON array of objects, which is how `write_rows` stores a list of messages in CSV."""
    for record in records:
        data = record.data
        if isinstance(data, dict) and fields & data.keys():
            data = {key: _message_list(value) if key in fields else value for key, value in data.items()}
            record = record._replace(data=data)
        yield record


def _message_list(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip()[:1] == "[":
        try:
            decoded = loads_text(value)
        except ValueError:
            return value
        if isinstance(decoded, list) and all(isinstance(item, dict) for item in decoded):
            return decoded
    return value


def dataset_records(dataset: Any) -> Iterator[Record]:
    """The records of a loaded `datasets.Dataset` (`load_hf_dataset`)."""
    for index, item in enumerate(dataset, start=1):
        yield Record(index, item)


_hub_note: str | None = None


def prepare_hub() -> str | None:
    """Call before the hub client is first imported, for a name that only the hub can resolve.

    When the hub's host name does not resolve (no network), the client is put in offline mode
    for the rest of the process (`HF_HUB_OFFLINE=1`): the local cache answers at once instead of
    after five retries (about 25 s). Returns that
    reason, once known, for error messages; None when the hub may be reachable.
    """
    global _hub_note
    if _hub_note is None:
        _hub_note = ""
        if not os.environ.get("HF_HUB_OFFLINE") and "huggingface_hub" not in sys.modules:
            host = urlparse(os.environ.get("HF_ENDPOINT") or "https://huggingface.co").hostname or "huggingface.co"
            try:
                socket.getaddrinfo(host, 443)
            except OSError:
                os.environ["HF_HUB_OFFLINE"] = "1"
                _hub_note = f"{host} does not resolve, so only the local cache was tried"
    return _hub_note or None


def load_hf_dataset(source: str, *, kind: str, split: str, subset: str | None = None) -> Any:
    """A `datasets.Dataset` from a `save_to_disk` folder, or `load_dataset` of a hub id or a dataset
    repository folder, its configuration `subset` (`openai/gsm8k` needs `main`, smoltalk `all`)."""
    note = prepare_hub() if kind == "hub" else None
    import datasets

    if subset is not None and kind == "disk":
        raise InputError(f"{source}: a save_to_disk folder has no subsets; leave out --subset {subset}")
    try:
        if kind == "disk":
            loaded = datasets.load_from_disk(source)
        else:
            loaded = datasets.load_dataset(source, subset, split=split)
    except Exception as exc:  # the hub client raises many types; all mean "cannot load"
        why = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        if why.startswith("Config name is missing"):  # several subsets: the next line names them
            found = re.search(r"available configs: \[(.*?)\]", str(exc))
            why = "it has several subsets" + (f" ({found.group(1)})" if found else "") + \
                "; name one with --subset (`subset:` in a training config)"
        elif "BuilderConfig" in why:
            why += " (--subset names one of them)"
        where = {"hub": "the Hugging Face hub (offline?)", "repo": "its dataset repository"}.get(kind, "disk")
        raise InputError(f"{source}: could not load dataset from {where}: {why}"
                         + (f" ({note})" if note else "")) from None
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise InputError(f"{source}: no split {split!r}; splits are {', '.join(loaded)}")
        loaded = loaded[split]
    return loaded


def held_suffix(path: Path) -> str:
    """The suffix of what `path` holds: `.jsonl` for `data.jsonl` and for `data.jsonl.gz`."""
    return Path(path.stem).suffix.lower() if compression_of(path) else path.suffix.lower()


def read_json(path: str | os.PathLike[str], what: str = "", error: type[InputError] = InputError) -> Any:
    """The JSON a small file holds (a schema, a tool list); `error`, one line naming `what` and the
    path, when the file cannot be read or holds no JSON."""
    prefix = f"{what}: " if what else ""
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except OSError as exc:
        raise error(f"{prefix}{path}: {reason(exc)}") from None
    except (ValueError, UnicodeDecodeError) as exc:
        raise error(f"{prefix}{path}: not JSON ({exc})") from None


def reason(exc: OSError) -> str:
    """An OSError's reason as a message ends it: `no such file or directory`."""
    text = (exc.strerror or str(exc)).lower()
    return "it is a directory" if isinstance(exc, IsADirectoryError) else text

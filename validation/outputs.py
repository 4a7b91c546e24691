"""Where instructkit writes: every output file goes through `open_for_writing` (or `write_file`,
`write_rows`), which decides how by what is at the path now.

- A regular file, or nothing yet: written atomically. A temporary file beside it
  (`.NAME.PID@HOST.XXXXXXXX.tmp`) is renamed onto it once complete; a file it replaces keeps its
  mode (and owner and group, where this process may set them); a new file gets the umask's mode.
- A symlink: followed. Its final target is replaced atomically; the link stays a link.
- `-`, a character device (`/dev/null`, a terminal) or a FIFO: written to directly, streamed.
- Anything else (a directory, a socket, a block device, a symlink loop): refused in one line.
- An output that is the same file as one of its `inputs` (device and inode, so through symlinks
  and hard links) is refused; the in-place cases (`convert -o` and `--write-clean` onto their
  input) name no inputs, since they read the whole input before the rename.

A writer that is killed leaves its temporary file behind (SIGINT, SIGTERM and SIGHUP clean up,
see `instructkit.main`; `kill -9` cannot); the next write to the same target removes the ones
whose writer, on this host, is gone.
"""

from __future__ import annotations

import csv
import errno
import json
import os
import re
import socket
import stat
import sys
import zlib
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from importlib import import_module
from pathlib import Path
from typing import IO, Any, NamedTuple

from validation.errors import InputError
from validation.readers.files import compression_of, held_suffix, reason

STDOUT = "-"
Paths = Iterable[str | os.PathLike[str] | None]
# which host wrote a temporary file: a writer's PID means something only on its own host
_HOST = f"{zlib.crc32(socket.gethostname().encode()):08x}"


class Target(NamedTuple):
    """Where an output goes: `path` to write (a symlink's final target), and whether it is written
    to directly (`stream`: a device or FIFO) rather than replaced atomically."""

    path: Path
    stream: bool


def target_of(path: str | os.PathLike[str]) -> Target:
    """How `path` is written (see the module docstring); InputError for what must not be written.

    Example:
        >>> target_of("/dev/null")
        Target(path=PosixPath('/dev/null'), stream=True)
    """
    path = Path(path)
    try:
        mode = path.stat().st_mode  # through links
    except FileNotFoundError:
        if path.is_symlink():  # a link to nothing yet: its target is made, the link kept
            return Target(Path(os.path.realpath(path)), False)
        return Target(path, False)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise InputError(f"cannot write {path}: it is a symlink loop (its links point back to each other)") from None
        raise InputError(f"cannot write {path}: {reason(exc)}") from None
    if stat.S_ISREG(mode):
        return Target(Path(os.path.realpath(path)) if path.is_symlink() else path, False)
    if stat.S_ISCHR(mode) or stat.S_ISFIFO(mode):
        return Target(path, True)
    if stat.S_ISDIR(mode):
        raise InputError(f"cannot write {path}: it is a directory")
    kind = "a socket" if stat.S_ISSOCK(mode) else "a block device" if stat.S_ISBLK(mode) else "not a file"
    raise InputError(f"cannot write {path}: it is {kind}; name a file, a FIFO, a character device or -")


def refuse_inputs(output: str | os.PathLike[str] | None, inputs: Paths) -> None:
    """InputError when `output` is the same file as one of `inputs` (the same device and inode,
    so through symlinks and hard links): writing it would destroy the data being read.

    Example:
        >>> import tempfile
        >>> data = Path(tempfile.mkdtemp()) / "d.jsonl"
        >>> _ = data.write_text("{}")
        >>> refuse_inputs(data, [data])
        Traceback (most recent call last):
        validation.errors.InputError: cannot write ... it is the input ...; write it to another file
    """
    if output is None or os.fspath(output) == STDOUT:
        return
    try:
        written = os.stat(output)
    except OSError:  # not there yet (or unreadable): it cannot be an input
        return
    for source in inputs:
        if source is None:
            continue
        try:
            read = os.stat(source)
        except OSError:
            continue
        if (written.st_dev, written.st_ino) == (read.st_dev, read.st_ino) and stat.S_ISREG(read.st_mode):
            same = "it is the input" if Path(output).absolute() == Path(source).absolute() else \
                "it is the same file as the input"
            raise InputError(f"cannot write {output}: {same} {source}; write it to another file")


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """A path to write `path`'s content to: for a regular file (or a new one) a new temporary file
    beside it, renamed onto it when the block ends without an error; for a device or FIFO the path
    itself; a missing folder on the way is made. On any failure (a full disk, a size limit, Ctrl-C, an exception) the temporary file is
    removed and a file already at `path` is left as it was; a failed write is
    `InputError("cannot write PATH: REASON")`.

    Example:
        >>> import tempfile
        >>> target = Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_path(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> target.read_text(), [p.name for p in target.parent.iterdir()]
        ('done', ['out.txt'])
    """
    shown = Path(path)
    final, stream = target_of(path)
    if stream:
        try:
            yield final
        except OSError as exc:
            raise InputError(f"cannot write {shown}: {reason(exc)}") from None
        return
    try:  # a folder the output names that is not there yet is made (as train makes its output_dir)
        final.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"cannot write {shown}: {reason(exc)} (making its folder {final.parent})") from None
    sweep_stale(final)
    try:  # created with the usual permissions (the umask applies), never over another file
        tmp = final.with_name(f".{final.name}.{os.getpid()}@{_HOST}.{os.urandom(4).hex()}.tmp")
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as exc:
        raise InputError(f"cannot write {shown}: {reason(exc)}") from None
    try:
        _keep_mode(final, tmp)  # before any data is written: private data never sits in a readable file
        yield tmp
        os.replace(tmp, final)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise InputError(f"cannot write {shown}: {reason(exc)}") from None
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def _keep_mode(final: Path, tmp: Path) -> None:
    """Give `tmp` the mode, owner and group of the file it will replace (owner and group where
    this process may set them); a new file keeps the umask's mode."""
    try:
        old = final.stat()
    except FileNotFoundError:
        return
    mine = tmp.stat()
    if (old.st_uid, old.st_gid) != (mine.st_uid, mine.st_gid):
        try:
            os.chown(tmp, old.st_uid, old.st_gid)
        except PermissionError:  # only root may give a file away; the group, where we belong to it
            try:
                os.chown(tmp, -1, old.st_gid)
            except PermissionError:
                pass
    os.chmod(tmp, stat.S_IMODE(old.st_mode))  # after chown, which clears setuid/setgid bits


def sweep_stale(final: Path) -> list[str]:
    """Remove the temporary files of earlier writes to `final` whose writer on this host is gone
    (killed with `kill -9`, or a crashed machine); the names of those removed. Only files of our
    own naming are touched, and never one whose process still runs."""
    pattern = re.compile(re.escape(f".{final.name}.") + rf"(\d+)@{_HOST}\.[0-9a-f]{{8}}\.tmp")
    removed = []
    try:
        entries = list(os.scandir(final.parent))
    except OSError:
        return removed
    for entry in entries:
        found = pattern.fullmatch(entry.name)
        if found and not pid_alive(int(found[1])) and entry.is_file(follow_symlinks=False):
            try:
                os.unlink(entry.path)
                removed.append(entry.name)
            except OSError:
                pass
    return removed


def pid_alive(pid: int) -> bool:
    """Whether process `pid` runs on this host (one of another user counts)."""
    try:
        os.kill(pid, 0)
    except OSError as exc:
        return exc.errno == errno.EPERM
    return True


@contextmanager
def open_for_writing(path: str | os.PathLike[str], *, text: bool, inputs: Paths = ()) -> Iterator[IO[Any]]:
    """`path` opened for writing (UTF-8 text or bytes), compressed when its suffix says so:
    atomically when it is a file (it appears, complete, only when the block ends), streamed to
    stdout for `-` and to a device or FIFO. Refused when it is one of `inputs` (`refuse_inputs`)."""
    if os.fspath(path) == STDOUT:
        sys.stdout.flush()
        out: IO[Any] = sys.stdout if text else sys.stdout.buffer
        yield out
        out.flush()
        return
    refuse_inputs(path, inputs)
    compression = compression_of(path)
    with atomic_path(path) as tmp:
        opener = tmp.open if compression is None else partial(import_module(compression).open, tmp)
        with opener("wt", encoding="utf-8", newline="") if text else opener("wb") as f:
            yield f


def write_file(path: str | os.PathLike[str], data: str | bytes, *, inputs: Paths = ()) -> None:
    """`data` (UTF-8 text or bytes) written to `path` as `open_for_writing` writes."""
    with open_for_writing(path, text=False, inputs=inputs) as f:
        f.write(data.encode("utf-8") if isinstance(data, str) else data)


def json_line(row: dict[str, Any]) -> str:
    """A row as a line of JSONL, as every writer of rows here writes it (UTF-8 kept, not escaped)."""
    return json.dumps(row, ensure_ascii=False) + "\n"


def write_rows(path: str | os.PathLike[str], rows: Iterable[dict[str, Any]], *, inputs: Paths = ()) -> int:
    """Write `rows` to `path` in the format its extension names (`.gz`, `.bz2`, `.xz` after
    `.jsonl`, `.json` or `.csv` compress it; `-`, a device or a FIFO without a suffix get JSONL);
    returns how many were written."""
    path = Path(path)
    suffix = held_suffix(path)
    if not suffix and (os.fspath(path) == STDOUT or target_of(path).stream):  # `-`, /dev/stdout, a FIFO
        suffix = ".jsonl"
    if compression_of(path) and suffix not in (".jsonl", ".ndjson", ".json", ".csv"):
        raise InputError(f"{path}: cannot write {suffix + path.suffix.lower()!r}; only .jsonl, .json and .csv "
                         "can be compressed")
    rows = list(rows) if suffix not in (".jsonl", ".ndjson") else rows
    count = 0
    if suffix in (".jsonl", ".ndjson"):
        with open_for_writing(path, text=True, inputs=inputs) as f:
            for count, item in enumerate(rows, start=1):
                f.write(json_line(item))
    elif suffix == ".json":
        with open_for_writing(path, text=True, inputs=inputs) as f:
            f.write(json.dumps(rows, ensure_ascii=False, indent=1) + "\n")
        count = len(rows)
    elif suffix in (".parquet", ".pq"):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            table = pa.Table.from_pylist(rows)
        except (pa.ArrowInvalid, pa.ArrowTypeError, OverflowError) as exc:
            raise InputError(f"{path}: {_mixed_column(rows, exc)}; Parquet holds one type per column and "
                             "integers of 64 bits: write .jsonl or .json instead") from None
        with open_for_writing(path, text=False, inputs=inputs) as f:
            pq.write_table(table, f)
        count = len(rows)
    elif suffix == ".csv":
        columns = list(dict.fromkeys(key for item in rows for key in item))
        with open_for_writing(path, text=True, inputs=inputs) as f:
            writer = csv.DictWriter(f, fieldnames=columns)
            writer.writeheader()
            for item in rows:
                writer.writerow({k: json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else v
                                 for k, v in item.items()})
        count = len(rows)
    else:
        raise InputError(f"{path}: cannot write {suffix or '(no extension)'!r}; use .jsonl, .json, .parquet or .csv")
    return count


def _mixed_column(rows: list[dict[str, Any]], exc: Exception) -> str:
    """Which column Arrow could not give one type, and the first row where it changes."""
    import pyarrow as pa

    from validation.readers.decode import json_type

    for key in dict.fromkeys(key for item in rows for key in item):
        values = [item.get(key) for item in rows]
        try:
            pa.array(values)
        except OverflowError:
            row = next((i for i, v in enumerate(values, 1) if _too_wide(v)), None)
            if row is None:  # e.g. -1 and 2**63: each fits 64 bits, not both one type
                return f"column {key!r} holds integers that no one 64-bit type holds"
            return f"column {key!r} holds an integer wider than 64 bits in written row {row}"
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            kinds = [(i, json_type(v)) for i, v in enumerate(values, 1) if v is not None]
            change = next(((i, kind) for i, kind in kinds if kind != kinds[0][1]), None)
            if change is None:  # same JSON type, different insides (e.g. lists of numbers and of strings)
                return f"column {key!r} holds values of one JSON type but different shapes ({exc})"
            return (f"column {key!r} is {kinds[0][1]} in written row {kinds[0][0]} and {change[1]} in written "
                    f"row {change[0]}")
    return f"the rows do not fit one table ({exc})"


def _too_wide(value: Any) -> bool:
    """An integer outside 64 bits, anywhere inside `value`."""
    if isinstance(value, dict):
        return any(_too_wide(v) for v in value.values())
    if isinstance(value, list):
        return any(_too_wide(v) for v in value)
    return isinstance(value, int) and not -(1 << 63) <= value < (1 << 64)

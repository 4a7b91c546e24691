"""A run's output folder: whose it is (a marker), who writes it now (a lock), whether it finished.

Every run writes `.instructkit-run.json` first: it marks the folder as an instructkit run and says
whether that run finished. A folder holding files but no marker belongs to someone else: a run
refuses it unless told `overwrite`, and even then removes nothing (it writes its own files, which
may replace files of the same name). `.instructkit-run.lock` holds the PID of the run writing the
folder; a second run is refused while that process lives, and a lock left by a killed run is
taken over. `verify` and `generate` refuse a folder whose run did not finish.
"""

from __future__ import annotations

import contextlib
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from training.errors import ConfigError, UnfinishedRun
from validation.outputs import pid_alive, write_file

MARKER = ".instructkit-run.json"
LOCK = ".instructkit-run.lock"


def read_marker(out: Path) -> dict[str, Any] | None:
    """The marker of the run in `out`, or None when `out` is not an instructkit run."""
    try:
        marker = json.loads((out / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return marker if isinstance(marker, dict) else None


def claim(out: Path, *, overwrite: bool, resume: bool) -> str | None:
    """Check that this run may write the folder `out` (made, and locked, by the caller) and mark it
    as this run's; a line saying what the run replaces or resumes (None for a new or empty
    folder). Raises ConfigError for a folder of someone else's files (without `overwrite`)."""
    note = may_claim(out, overwrite=overwrite, resume=resume)
    mark(out, finished=False)
    return note


def may_claim(out: Path, *, overwrite: bool, resume: bool) -> str | None:
    """`claim`'s check alone, writing nothing (a dry run): the line it would say, or ConfigError."""
    if not out.exists():
        return None
    if not out.is_dir():
        raise ConfigError(f"output_dir {out} is a file, not a folder")
    holder = _holder(out / LOCK)
    if holder is not None and holder != os.getpid():
        raise _busy(out, holder)
    earlier = read_marker(out)
    theirs = sorted(p.name for p in out.iterdir() if p.name not in (MARKER, LOCK))
    note = None
    if earlier is not None:
        state = "finished" if earlier.get("finished") else "did not finish"
        when = earlier.get("started", "?")
        note = (f"output_dir: resuming the run started {when} ({state})" if resume else
                f"output_dir: replacing the files of the earlier run started {when} ({state}) in {out}")
    elif theirs and not overwrite:
        shown = ", ".join(theirs[:5]) + (f" and {len(theirs) - 5} more" if len(theirs) > 5 else "")
        raise ConfigError(f"output_dir {out} already holds files that are not an instructkit run ({shown}); "
                          "choose an empty or new folder, or pass --overwrite to write there anyway (files "
                          "of the same name as the run's are replaced, nothing is deleted)")
    elif theirs:
        note = f"output_dir: --overwrite: writing into {out}, which holds other files ({len(theirs)}); none is deleted"
    return note


def mark(out: Path, *, finished: bool) -> None:
    """Write the marker: started now (kept from the marker when finishing), finished or not."""
    earlier = read_marker(out) if finished else None
    started = earlier.get("started") if earlier else time.strftime("%Y-%m-%d %H:%M:%S")
    write_file(out / MARKER, json.dumps({"tool": "instructkit", "started": started, "finished": finished,
                                         "pid": os.getpid(), "host": socket.gethostname()}, indent=1) + "\n")


def require_finished(model_dir: str | os.PathLike[str]) -> None:
    """Refuse a run folder whose run did not finish; folders without a marker (models from the hub
    or elsewhere) pass."""
    marker = read_marker(Path(model_dir))
    if marker is not None and not marker.get("finished"):
        raise UnfinishedRun(f"{model_dir}: the training run in this folder did not finish (started "
                            f"{marker.get('started', '?')}); resume it with `instructkit train CONFIG --resume`, "
                            "or load one of its checkpoint-N folders")


@contextlib.contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold `out`'s lock for the block: refused while another live process holds it; a lock
    whose process is gone (killed) is taken over."""
    path = out / LOCK
    me = f"{os.getpid()} {socket.gethostname()}\n"
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
        except FileExistsError:
            holder = _holder(path)
            if holder is not None:
                raise _busy(out, holder) from None
            with contextlib.suppress(FileNotFoundError):
                path.unlink()  # stale: its process is gone
            continue
        with os.fdopen(fd, "w") as f:
            f.write(me)
        break
    else:
        raise ConfigError(f"output_dir {out}: cannot take its lock {path}")
    try:
        yield
    finally:
        with contextlib.suppress(OSError):
            if path.read_text() == me:
                path.unlink()


def _busy(out: Path, holder: int) -> ConfigError:
    return ConfigError(f"output_dir {out} is being written by another run (PID {holder}); wait for it to end or "
                       "choose another output_dir")


def _holder(path: Path) -> int | None:
    """The PID holding the lock at `path` when that process still runs (on this host), else None."""
    try:
        pid_text, _, host = path.read_text().strip().partition(" ")
        pid = int(pid_text)
    except (OSError, ValueError):
        return None
    if host and host != socket.gethostname():
        return pid  # another machine's process: cannot tell, so it holds
    return pid if pid_alive(pid) else None


def last_checkpoint(out: Path) -> str | None:
    """The newest complete `checkpoint-N` in `out`: its trainer_state.json (written last) reads
    as JSON. A checkpoint cut short by a kill is passed over."""
    found = []
    for path in out.glob("checkpoint-*"):
        step = path.name.removeprefix("checkpoint-")
        if step.isdigit() and path.is_dir():
            found.append((int(step), path))
    for _, path in sorted(found, reverse=True):
        try:
            json.loads((path / "trainer_state.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        return str(path)
    return None

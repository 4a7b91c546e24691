"""The `instructkit` command: each package registers its own subcommands from its `cli.py`.

Library errors become one line on stderr and an exit code; no traceback reaches the user
(set INSTRUCTKIT_DEBUG=1 to see one). Heavy libraries load inside the commands that use them.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import Any

COMMAND_MODULES = ("validation.cli", "templating.cli", "training.cli")
# The module that registers each subcommand (a test keeps this in step with the modules): a
# command imports only its own module, so `validate` does not pay for the template registry or
# training's imports at start-up.
COMMANDS = {"validate": "validation.cli", "convert": "validation.cli", "stats": "validation.cli",
            "publish": "validation.cli",
            "templates": "templating.cli", "render": "templating.cli", "audit": "templating.cli",
            "train": "training.cli", "generate": "training.cli", "compare": "training.cli",
            "verify": "training.cli"}


class Names:
    """The command line's edge: a template or tokenizer named there becomes the object the library
    takes, here and nowhere inside (`validation` looks no name up; validation/arguments.py `Names`).
    Each command calls it where it needs the object, so errors come in the order they always did."""

    def template(self, name: str, tokenizer: str | None = None) -> Any:
        """The template `name` names: a registry name or alias, a Jinja file (its special tokens from
        `tokenizer` or the tokenizer beside it), a model folder, `.gguf` or hub id (its own template);
        templating/resolve.py. UnknownName with the names that exist."""
        from templating.resolve import resolve_template

        return resolve_template(name, tokenizer=tokenizer)

    def tokenizer(self, name: str) -> Any:
        """A tokenizer for counting tokens (templating's one loader; a tokenizer.json needs no torch)."""
        from templating.embedded import load_tokenizer

        return load_tokenizer(name, chat_template=False)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The whole parser, or only the part that `command` needs."""
    parser = argparse.ArgumentParser(
        prog="instructkit", description="Validate, convert, render and fine-tune chat datasets.")
    parser.set_defaults(names=Names())
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in (COMMANDS[command],) if command in COMMANDS else COMMAND_MODULES:
        importlib.import_module(name).register(commands)
    return parser


class Terminated(BaseException):
    """SIGTERM or SIGHUP (what `timeout`, `docker stop`, Slurm and a closed terminal send): unwinds
    the command as Ctrl-C does, so that an output being written is removed, not left half-made."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


_BEFORE: dict[int, Any] = {}  # the handlers `terminated_cleanly` replaced, while it holds


@contextlib.contextmanager
def terminated_cleanly() -> Iterator[None]:
    """SIGTERM and SIGHUP raise `Terminated` in this process for the block (the handlers before are
    put back after it). A forked worker starts with the handlers before: a Python handler there
    could miss a signal that comes just as the worker goes to wait for work, and never end."""
    if threading.current_thread() is not threading.main_thread() or _BEFORE:  # main thread only; once
        yield
        return

    def on_signal(signum: int, frame: object) -> None:
        raise Terminated(signum)

    _BEFORE.update({signum: signal.signal(signum, on_signal) for signum in (signal.SIGTERM, signal.SIGHUP)})
    try:
        yield
    finally:
        _restore_handlers()


def _restore_handlers() -> None:
    with contextlib.suppress(ValueError):  # (a fork from another thread: no handler to set there)
        for signum, handler in _BEFORE.items():
            signal.signal(signum, handler)
    _BEFORE.clear()


os.register_at_fork(after_in_child=_restore_handlers)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    args = build_parser(argv[0] if argv else None).parse_args(argv)
    try:
        with terminated_cleanly():
            return int(args.run(args) or 0)
    except BrokenPipeError:  # e.g. `instructkit render ... | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("instructkit: interrupted", file=sys.stderr)
        return 130
    except Terminated as stop:
        print(f"instructkit: terminated ({signal.Signals(stop.signum).name})", file=sys.stderr)
        return 128 + stop.signum
    except Exception as exc:  # the one place that turns any failure into a clean message
        if os.environ.get("INSTRUCTKIT_DEBUG"):
            raise
        kind = "error" if _is_user_error(exc) else f"internal error ({type(exc).__name__})"
        print(f"instructkit {args.command}: {kind}: {exc}", file=sys.stderr)
        return 2


def _is_user_error(exc: Exception) -> bool:
    from validation.errors import InstructkitError

    return isinstance(exc, (InstructkitError, FileNotFoundError, PermissionError, IsADirectoryError))


if __name__ == "__main__":
    sys.exit(main())

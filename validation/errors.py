"""instructkit's exceptions, in one tree: this module holds its root and validation's errors;
templating/errors.py and training/errors.py hold theirs, each a subclass of one of these. The CLI
prints any of them as one line (exit 2, or 1 where a command says so) and anything else as an
internal error.

    InstructkitError                               (validation/errors.py)
    ├── InputError               the input cannot be used at all: a missing or unreadable file, an
    │   │                        unknown kind, the hub offline, a bad argument (CLI exit 2)
    │   ├── UnknownName          (also a KeyError) no format, template or tokenizer of that name
    │   ├── ConfigError          (training; also a ValueError) a training config that cannot be used
    │   │   └── UnfinishedRun    (training) a run folder whose run did not finish (verify, generate)
    │   ├── ModelNotFound        (templating; also a FileNotFoundError) a model or tokenizer that cannot be loaded
    │   └── NoFingerprint        (training; also a FileNotFoundError) a folder `train` did not write
    ├── TemplateError            (templating; also a ValueError) a template refused a conversation or failed
    │   └── TemplateLimit        (templating) a render past its time or size limit: the template is broken
    ├── InvalidRow               (also a ValueError) `read` met a row with errors; `.issues`
    ├── CannotConvert            the target format cannot hold a conversation
    ├── RowProblems              one row's structure (a conversation or a preference pair): its
    │                            problems, each (path, code, message); they become the row's Issues
    ├── InvalidDataset           (training; also a RuntimeError) the training gate found errors; `.report`
    ├── MaskMismatch             (training; also a RuntimeError) our masks and TRL's disagree on a sample
    └── PushFailed               (also a RuntimeError) saved (a model, a published dataset), but not pushed to the hub

`validation`, `templating` and `training` export the public ones (`templating.TemplateError`,
`training.ConfigError`, ...).
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import Any


class InstructkitError(Exception):
    """Every error instructkit raises on purpose; its message says what, where and what to do."""


def first_line(exc: BaseException) -> str:
    """The first line of another library's error, for a one-line message of ours (its type's name
    when it says nothing).

    Example:
        >>> first_line(OSError(" offline" + chr(10) + "Traceback ...")), first_line(ValueError())
        ('offline', 'ValueError')
    """
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


class InputError(InstructkitError):
    """The input cannot be used at all (missing, a plain directory, unknown kind, hub offline)."""


class PushFailed(InstructkitError, RuntimeError):
    """Saved locally (a trained model, a published dataset) but not pushed to the hub; the message says why."""


class UnknownName(InputError, KeyError):
    """No format, template or tokenizer of that name. A KeyError too, for lookups that expect one;
    its text is the message itself (a KeyError's would be quoted)."""

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""

    @classmethod
    def among(cls, what: str, name: str, known: Iterable[str]) -> UnknownName:
        """`unknown WHAT 'name'; did you mean 'closest'?`, or the known names when none is close.

        Example:
            >>> str(UnknownName.among("format", "mesages", ["messages", "sharegpt"]))
            "unknown format 'mesages'; did you mean 'messages'?"
        """
        names = sorted(set(known))
        close = difflib.get_close_matches(name, names, n=1)
        hint = f"did you mean {close[0]!r}?" if close else f"known {what}s: {', '.join(names)}"
        return cls(f"unknown {what} {name!r}; {hint}")


class InvalidRow(InstructkitError, ValueError):
    """`read` met a row with errors; `issues` says which and where."""

    def __init__(self, issues: list[Any]) -> None:
        first = issues[0]
        super().__init__(f"row {first.row}, {first.path or '(row)'}: {first.code}: {first.message}")
        self.issues = issues


class CannotConvert(InstructkitError):
    """The target format cannot hold this conversation; the message says what is in the way."""


class RowProblems(InstructkitError):
    """The structural problems of one row, read as a conversation or as a preference pair: each
    (path in the source row, code, message). The readers raise it; the checks turn every problem
    into an `Issue` on that row, so it never reaches the command line."""

    def __init__(self, problems: list[tuple[str, str, str]]) -> None:
        super().__init__("; ".join(f"{p}: {m}" for p, _, m in problems))
        self.problems = problems

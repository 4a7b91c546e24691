"""training's exceptions, in instructkit's one tree (drawn in validation/errors.py):

    InstructkitError
    ├── InputError
    │   ├── ConfigError          (also a ValueError) a training config that cannot be used
    │   │   └── UnfinishedRun    a run folder whose run did not finish (verify, generate)
    │   └── NoFingerprint        (also a FileNotFoundError) a folder `train` did not write
    ├── InvalidDataset           (also a RuntimeError) the training gate found errors; `.report`
    ├── MaskMismatch             (also a RuntimeError) our masks and TRL's disagree on a sample
    └── PushFailed               (validation/errors.py, re-exported here) saved, but not pushed to the hub
"""

from __future__ import annotations

from typing import Any

from validation.errors import InputError, InstructkitError
from validation.errors import PushFailed

__all__ = ["ConfigError", "UnfinishedRun", "NoFingerprint", "InvalidDataset", "MaskMismatch", "PushFailed"]


class ConfigError(InputError, ValueError):
    """A configuration that cannot be used; the message names the key and what to do."""


class UnfinishedRun(ConfigError):
    """The folder holds a run that did not finish (killed, failed, or still running)."""


class NoFingerprint(InputError, FileNotFoundError):
    """The folder was not written by `instructkit train` (or the fingerprint was removed)."""


class InvalidDataset(InstructkitError, RuntimeError):
    """The gate found errors (validation: `on_invalid: stop`; supervision audit: `on_audit_error:
    stop`); `report` is the validation or audit report."""

    def __init__(self, report: Any, stage: str = "validation") -> None:
        what, key = ("invalid rows", "on_invalid: drop") if stage == "validation" else \
            ("rows with supervision errors", "on_audit_error: drop or warn")
        codes = ", ".join(f"{c} {n}" for c, n in report.counts().items()
                          if any(i.code == c and i.severity == "error" for i in report.issues))  # listed: 1 or more
        super().__init__(f"{report.path}: {report.invalid} {what} of {report.rows} ({codes}); training stopped "
                         f"(fix them, or set {key})")
        self.report = report


class MaskMismatch(InstructkitError, RuntimeError):
    """Our masks and TRL's disagree on a sample: training would not learn what we report."""

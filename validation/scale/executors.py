"""datatrove's executors as a sharded run uses them: its logs in each task's log file, warnings and
errors only on the terminal."""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Iterator
from typing import Any

from datatrove.executor.local import LocalPipelineExecutor


SHARED_FOLDER = "Logging directory points to a local filesystem"  # (datatrove's warning, RayPipelineExecutor)


@contextlib.contextmanager
def quiet() -> Iterator[None]:
    """loguru (datatrove's logger) on the terminal at warnings and errors only while the block runs."""
    from loguru import logger

    _warnings_only(logger)
    try:
        yield
    finally:
        _warnings_only(logger)


def _warnings_only(logger: Any) -> None:
    logger.remove()
    logger.add(sys.stderr, level="WARNING")


class QuietLocal(LocalPipelineExecutor):
    """The local executor, a task's INFO lines kept to its log file (datatrove prints them on stderr too)."""

    def _run_for_rank(self, rank: int, local_rank: int = 0, node_rank: int = -1) -> Any:
        from loguru import logger

        try:
            with open(os.devnull, "w") as null, contextlib.redirect_stderr(null):
                return super()._run_for_rank(rank, local_rank, node_rank)
        finally:
            _warnings_only(logger)  # (datatrove puts its default handler back when a task ends)


def executor_for(kind: str, logs: str, step: Any, tasks: int, workers: int | None, *, one_machine: bool = False) -> Any:
    """The executor `kind` (local or ray) running `step` as `tasks` tasks, `workers` at a time, its logs in `logs`
    (tasks marked complete there are skipped). `one_machine`: a Ray cluster of this machine alone, where datatrove's
    warning that `logs` must be on a filesystem every node shares does not apply and is left out."""
    if kind == "ray":
        from datatrove.executor.ray import RayPipelineExecutor
        from loguru import logger

        if one_machine:
            logger.remove()
            logger.add(sys.stderr, level="WARNING", filter=lambda r: not r["message"].startswith(SHARED_FOLDER))
        try:
            return RayPipelineExecutor([step], tasks=tasks, workers=workers or -1, logging_dir=logs, cpus_per_task=1,
                                       mem_per_cpu_gb=1)
        finally:
            _warnings_only(logger)
    # Forked workers start at once, with every module this process imported; but Polars' thread pool does not
    # survive a fork of a process that used it (a worker would hang), so once it is loaded, fresh processes.
    start = "forkserver" if "polars" in sys.modules else "fork"
    return QuietLocal([step], tasks=tasks, workers=min(workers or tasks, tasks), logging_dir=logs, start_method=start)

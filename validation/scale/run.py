"""`validate` over a sharded dataset on datatrove's executors: local processes, a Ray cluster or Slurm.

The run's folder (`logs`) holds the plan, every stage's work and datatrove's logs and completion
markers: run the same command again and finished tasks are skipped. The report equals the one
`validate` gives for the shards joined into one file (tests/validation/test_scale.py holds it).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from validation.errors import InputError, first_line
from validation.readers.files import held_suffix
from validation.report import Report
from validation.scale.merge import load_report
from validation.outputs import refuse_inputs
from validation.scale.plan import UNIT_BYTES, Plan, make_plan, shards_of
from validation.scale.remote import is_remote, remote_stat
from validation.scale.units import Checks, offsets, put

EXECUTORS = ("local", "ray", "slurm")
# On Ray every stage starts a worker process per task (0.7 s or more before a row is read: docs/benchmarks.md); the
# duplicates of this many rows are resolved sooner here, in the calling process (1.4 million rows: 0.5 s; never in
# forked processes: a fork of a process connected to Ray is not safe).
RAY_HERE_ROWS = 2_000_000


@dataclass(frozen=True)
class Slurm:
    """What the Slurm executor passes to sbatch: `partition`, `time` (a Slurm time limit, e.g. 4:00:00),
    CPUs and memory per task, `env` (a command that activates the environment, e.g. `source .venv/bin/activate`),
    and any further sbatch options."""

    partition: str
    time: str = "4:00:00"
    cpus_per_task: int = 1
    mem_per_cpu_gb: int = 2
    env: str | None = None
    sbatch: dict[str, str] = field(default_factory=dict)


def validate_shards(inputs: Sequence[str | os.PathLike[str]], checks: Checks, *, logs: str | os.PathLike[str],
                    executor: str = "local", tasks: int = 1, workers: int | None = None,
                    write_clean: str | os.PathLike[str] | None = None,
                    issues_jsonl: str | os.PathLike[str] | None = None,
                    slurm: Slurm | None = None, progress: bool = False, unit_bytes: int = UNIT_BYTES) -> Report | None:
    """Validate the shards `inputs` name (files, folders, glob patterns) as one dataset with `tasks`
    tasks on `executor`, at most `workers` at a time; the report, or None for Slurm (the jobs are
    queued: the report is written to LOGS/report.json when they finish).

    `checks.format` may be empty: the format is then detected from the first shard's rows. A plain
    JSONL shard is checked in units of about `unit_bytes`.

    Raises:
        InputError: no shards, a shard that is not JSONL/Parquet, a folder that holds another run,
            a task that failed (its log named).
    """
    check_arguments(executor, tasks, workers, slurm)
    if write_clean is not None:
        jsonl_output(write_clean, "the clean rows")
    outputs = [os.fspath(o) for o in (write_clean, issues_jsonl) if o is not None]
    folder, plan, checks, name = prepare(inputs, checks, logs=logs, executor=executor, tasks=tasks,
                                         unit_bytes=unit_bytes, outputs=outputs)
    from validation.scale.stages import CheckUnits, JoinClean, MergeReport, ResolveDuplicates, WriteClean

    # absolute: a Slurm job runs wherever Slurm starts it
    out = None if write_clean is None else absolute(write_clean)
    issues = None if issues_jsonl is None else absolute(issues_jsonl)
    # (name, step, tasks, on the chosen executor: a remote stage, but for Ray's duplicates of few rows)
    stages: list[tuple[str, Any, int, bool]] = [
        ("check", CheckUnits(str(folder), checks), tasks, True),
        ("duplicates", ResolveDuplicates(str(folder), checks), plan.ranges, True),
        ("merge", MergeReport(str(folder), checks, name, issues), 1, False),
    ]
    if out is not None:
        stages += [("clean", WriteClean(str(folder), checks), tasks, True),
                   ("join", JoinClean(str(folder), checks, out), 1, False)]
    if not run_stages(folder, plan, stages, executor=executor, workers=workers, slurm=slurm, progress=progress):
        return None
    return load_report(folder)


def check_arguments(executor: str, tasks: int, workers: int | None, slurm: Slurm | None) -> None:
    """InputError for an executor, tasks or workers a sharded run cannot take."""
    if executor not in EXECUTORS:
        raise InputError(f"unknown executor {executor!r}; choose one of {', '.join(EXECUTORS)}")
    if tasks < 1 or (workers is not None and workers < 1):
        raise InputError("tasks and workers must be whole numbers >= 1")
    if executor == "slurm" and slurm is None:
        raise InputError("the Slurm executor needs a partition (--partition)")


def jsonl_output(path: str | os.PathLike[str], what: str) -> None:
    """InputError unless `path` is a JSONL file (compressed or not) or stdout: what the units' parts are joined into."""
    if held_suffix(Path(path)) not in (".jsonl", ".ndjson") and os.fspath(path) != "-":
        raise InputError(f"{path}: a sharded run writes {what} as JSONL (.jsonl, compressed or not)")


def prepare(inputs: Sequence[str | os.PathLike[str]], checks: Checks, *, logs: str | os.PathLike[str], executor: str,
            tasks: int, unit_bytes: int, outputs: list[str],
            options: dict[str, Any] | None = None) -> tuple[Path, Plan, Checks, str]:
    """(the run's folder, its plan, `checks` with the format every shard is read as, the dataset's name) of the
    shards `inputs` name: a new plan, or the one in `logs` when the same run wrote it (`options`: a command's own
    options, which a resumed run must share too). InputError for an output that is a shard."""
    names = [os.fspath(i) for i in inputs]
    if executor == "slurm" and "-" in outputs:
        raise InputError("with --executor slurm the outputs are files (a job's stdout is its log)")
    shards = shards_of(names)
    for out in outputs:
        refuse_inputs(out, shards)  # (a join would replace a shard with the whole dataset)
    folder = Path(logs).resolve()
    _require(executor)
    plan = _plan(folder, shards, checks, tasks, unit_bytes, options)
    name = names[0] if len(names) == 1 else f"{names[0]} (+{len(names) - 1} more)"
    return folder, plan, _with_format(checks, plan), name


def run_stages(folder: Path, plan: Plan, stages: list[tuple[str, Any, int, bool]], *, executor: str,
               workers: int | None, slurm: Slurm | None, progress: bool) -> bool:
    """Run `stages` (name, pipeline step, tasks, on the chosen executor) one after another: True when they are
    done, False when queued on Slurm. A stage not on the executor runs here, again on every run (it writes the
    user's outputs); the first stage shows a bar over the units its tasks finish."""
    from validation.scale.executors import executor_for, quiet

    if executor == "slurm":
        assert slurm is not None
        _launch_slurm(folder, stages, slurm, workers)
        return False
    with quiet():
        alone = _connect_ray() if executor == "ray" else True
        for stage, step, count, remote in stages:
            with _progress(folder, stage, plan, progress and stage == stages[0][0]):
                if not remote:  # the merge and the join write the user's outputs: done again on every run (quick)
                    shutil.rmtree(folder / "stages" / stage / "completions", ignore_errors=True)
                where, at_once = (executor, workers) if remote else ("local", 1)
                if stage == "duplicates" and executor == "ray" and offsets(folder, plan.units)[-1] <= RAY_HERE_ROWS:
                    where, at_once = "local", 1
                run = executor_for(where, str(folder / "stages" / stage), step, count, at_once, one_machine=alone)
                try:
                    run.run()
                except Exception:  # noqa: BLE001 - a task's failure: its log says why (_check_done)
                    if not run.get_incomplete_ranks(skip_completed=True):
                        raise
            _check_done(run, folder, stage)
    return True


def absolute(path: str | os.PathLike[str]) -> str:
    """`path` as a job that runs elsewhere finds it (`-`, stdout, stays as it is)."""
    return "-" if os.fspath(path) == "-" else os.path.abspath(path)


def _require(executor: str) -> None:
    """InputError naming the extra to install when datatrove (or Ray) is missing."""
    import importlib.util

    for module in ("datatrove", *(("ray",) if executor == "ray" else ())):
        if importlib.util.find_spec(module) is None:
            raise InputError(f"--executor {executor} needs {module}: pip install 'instructkit[scale]'")


def _with_format(checks: Checks, plan: Plan) -> Checks:
    from dataclasses import replace

    return replace(checks, format=plan.format, column=plan.column)


def _fingerprint(shards: list[str], checks: Checks, tasks: int, options: dict[str, Any] | None) -> dict[str, Any]:
    """What a resumed run must share with the run that wrote the folder: the shards as they are, the checks, the
    command's own options, the tasks."""
    found = [[shard, *remote_stat(shard)] if is_remote(shard) else
             [os.path.abspath(shard), (st := os.stat(shard)).st_size, st.st_mtime_ns] for shard in shards]
    return {"shards": found, "options": checks.key(),
            "tasks": tasks, **({"command": options} if options else {})}


def _plan(folder: Path, shards: list[str], checks: Checks, tasks: int, unit_bytes: int,
          options: dict[str, Any] | None = None) -> Plan:
    """The run's plan: the one in `folder` when it was written by the same run (a resumed run), else a new one."""
    fingerprint = _fingerprint(shards, checks, tasks, options)
    stamp = folder / "run.json"
    if stamp.exists():
        if json.loads(stamp.read_bytes()) != fingerprint:
            raise InputError(f"{folder}: holds another run (other shards, options or --tasks); give another --logs "
                             "folder, or remove it to start again")
        from validation.scale.merge import load_plan

        return load_plan(folder)
    if folder.exists() and any(folder.iterdir()):
        raise InputError(f"{folder}: not empty and not a run's folder; give a new or empty --logs folder")
    plan = make_plan(shards, format=checks.format or None, column=checks.column, columns=checks.columns,
                     max_row_bytes=checks.max_row_bytes, ranges=tasks, unit_bytes=unit_bytes)
    put(folder / "plan.json", plan.to_json().encode())
    put(stamp, json.dumps(fingerprint).encode())
    return plan


def _check_done(run: Any, folder: Path, stage: str) -> None:
    """InputError naming the first failed task's log and its last error line, when any task did not finish."""
    left = run.get_incomplete_ranks(skip_completed=True)
    if not left:
        return
    log = folder / "stages" / stage / "logs" / f"task_{left[0]:05d}.log"
    reason = ""
    if log.exists():
        lines = [line for line in log.read_text(encoding="utf-8", errors="replace").splitlines() if line.strip()]
        errors = [line.split(" - ", 1)[-1] for line in lines if "| ERROR" in line]
        reason = f": {(errors or lines or [''])[-1].strip()}"
    raise InputError(f"{len(left)} of {run.world_size} tasks of stage {stage!r} did not finish{reason} (log: {log}); "
                     "run the same command again to redo only those")


def _connect_ray() -> bool:
    """Connect to the cluster RAY_ADDRESS names, or start one on this machine; whether the cluster is this machine
    alone (its one live node the driver's own), where every task sees the run's folder."""
    import ray

    if not ray.is_initialized():
        address = os.environ.get("RAY_ADDRESS") or None
        try:
            ray.init(address=address, log_to_driver=False, include_dashboard=False, configure_logging=False)
        except (ConnectionError, ray.exceptions.AuthenticationError) as exc:
            raise InputError(f"cannot connect to the Ray cluster at {address}: {first_line(exc)} (a cluster with "
                             "token authentication wants RAY_AUTH_MODE=token and its token here)") from None
    here = ray.get_runtime_context().get_node_id()
    return all(node["NodeID"] == here for node in ray.nodes() if node.get("Alive"))


@contextmanager
def _progress(folder: Path, stage: str, plan: Plan, enabled: bool) -> Iterator[None]:
    """A bar over the units checked (the stage's tasks write a count file per unit), on a terminal."""
    from validation.progress import count_bar

    with count_bar(enabled, f"{stage}: units", len(plan.units)) as advance:
        stop = threading.Event()

        def poll() -> None:
            seen = 0
            while not stop.wait(0.5):
                done = len(list((folder / "counts").glob("*.json"))) if (folder / "counts").exists() else 0
                advance(done - seen)
                seen = done

        watcher = threading.Thread(target=poll, daemon=True)
        if enabled:
            watcher.start()
        try:
            yield
        finally:
            stop.set()
            if enabled:
                watcher.join()


def _launch_slurm(folder: Path, stages: list[tuple[str, Any, int, bool]], slurm: Slurm, workers: int | None) -> None:
    """Queue every stage as a Slurm job array, each after the one before (sbatch --dependency)."""
    from datatrove.executor.slurm import SlurmPipelineExecutor

    from validation.scale.executors import quiet

    previous = None
    for stage, step, count, _ in stages:
        previous = SlurmPipelineExecutor(
            [step], tasks=count, time=slurm.time, partition=slurm.partition, cpus_per_task=slurm.cpus_per_task,
            mem_per_cpu_gb=slurm.mem_per_cpu_gb, workers=workers or -1, job_name=f"instructkit-{stage}",
            env_command=slurm.env, sbatch_args=dict(slurm.sbatch) or None, depends=previous,
            logging_dir=str(folder / "stages" / stage), slurm_logs_folder=str(folder / "slurm" / stage))
    assert previous is not None
    try:
        with quiet():
            previous.run()
    except FileNotFoundError as exc:
        raise InputError(f"sbatch not found ({exc.filename}): run this on a Slurm cluster's login node; the "
                         f"job scripts are in {folder / 'stages'}") from None

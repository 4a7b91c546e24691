"""`instructkit validate|convert|stats PATH [MORE...] --executor local|ray|slurm`: arguments to `validate_shards`,
`convert_shards` and `stats_shards`."""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
from pathlib import Path

from validation.arguments import (compared_stats, corpus_checks_of, print_converted, print_report, print_stats,
                                  template_of, tokenizer_of)
from validation.errors import InputError
from validation.scale.run import Slurm
from validation.scale.units import Checks

DEFAULT_REMOTE_TASKS = 16


def run_sharded(args: argparse.Namespace) -> int:
    from validation.checks.required import parse_required
    from validation.scale.run import validate_shards

    _refuse_unsharded(args, "validate")
    inputs = [args.path, *args.more]
    checks = _checks_of(args, reward_columns=parse_required(args.reward_columns) if args.reward_columns else None,
                        max_issues=args.max_issues, spool=args.issues_jsonl is not None)
    tasks, logs, slurm = _placement(args, inputs, checks.key())
    report = validate_shards(inputs, checks, logs=logs, executor=args.executor, tasks=tasks, workers=args.workers,
                             write_clean=args.write_clean, issues_jsonl=args.issues_jsonl, slurm=slurm,
                             progress=not args.json)
    if report is None:
        return _queued(args, logs, "report.json", "validate")
    print_report(report, args)
    return 0 if report.ok else 1


def run_convert_sharded(args: argparse.Namespace) -> int:
    """`instructkit convert PATH [MORE...] --executor ...`: arguments to `convert_shards`."""
    from validation.scale.convert import REPORT, Target, convert_shards

    _refuse_unsharded(args, "convert")
    inputs = [args.path, *args.more]
    target = Target(args.to, args.to_column, args.image_layout)
    tasks, logs, slurm = _placement(args, inputs, json.dumps(["convert", vars(target), args.format, args.column,
                                                              args.columns, args.max_row_bytes]))
    report = convert_shards(inputs, args.output, target, format=args.format, column=args.column, columns=args.columns,
                            max_row_bytes=args.max_row_bytes, logs=logs, executor=args.executor, tasks=tasks,
                            workers=args.workers, slurm=slurm, progress=not args.json)
    if report is None:
        return _queued(args, logs, REPORT, "convert")
    return print_converted(report, args)


def run_stats_sharded(args: argparse.Namespace) -> int:
    """`instructkit stats PATH [MORE...] --executor ...`: arguments to `stats_shards`."""
    from validation.scale.stats import REPORT, stats_shards

    _refuse_unsharded(args, "stats")
    inputs = [args.path, *args.more]
    checks = _checks_of(args)
    tasks, logs, slurm = _placement(args, inputs, json.dumps(["stats", checks.key()]))
    result = stats_shards(inputs, checks, logs=logs, executor=args.executor, tasks=tasks, workers=args.workers,
                          slurm=slurm, progress=args.json != "-",
                          outputs=[o for o in (args.json_out, args.plot, args.html, args.json) if o not in (None, "-")])
    if result is None:
        return _queued(args, logs, REPORT, "stats")
    other = compared_stats(args, {"tokenizer": checks.tokenizer, "template": checks.template,
                                  "max_length": args.max_length, "format": args.format, "column": args.column,
                                  "split": args.split, "progress": True})
    return print_stats(result, args, other)


def _refuse_unsharded(args: argparse.Namespace, command: str) -> None:
    """InputError for what a sharded `command` does not take: several datasets without --executor, --fix,
    --subset, --encoding."""
    if not args.executor:
        raise InputError(f"several datasets: {command} them as the shards of one with --executor local (rows numbered "
                         "across them), or one at a time")
    if getattr(args, "fix", False):
        raise InputError("--fix with --executor: repair the shards with `instructkit convert --fix` first")
    for option in ("subset", "encoding"):
        if getattr(args, option):
            raise InputError(f"--{option} with --executor: shards are JSONL or Parquet files in UTF-8")


def _placement(args: argparse.Namespace, inputs: list[str], options: str) -> tuple[int, str, Slurm | None]:
    """(tasks, the run's folder, Slurm's options or None) of a sharded command; says the folder on stderr."""
    from validation.checks.parallel import default_workers

    tasks = args.tasks or (default_workers() if args.executor == "local" else DEFAULT_REMOTE_TASKS)
    logs = args.logs or _default_logs(inputs, options, args.executor, tasks)
    slurm = None
    if args.executor == "slurm":
        if not args.partition:
            raise InputError("--executor slurm needs --partition")
        slurm = Slurm(partition=args.partition, time=args.time, cpus_per_task=args.cpus_per_task,
                      mem_per_cpu_gb=args.mem_per_cpu, env=args.env or _venv_command(),
                      sbatch=dict(_pair(item) for item in args.sbatch))
    if not args.json:
        print(f"run folder: {logs} (run the same command again to resume)", file=sys.stderr)
    return tasks, logs, slurm


def _queued(args: argparse.Namespace, logs: str, report: str, command: str) -> int:
    """What a run queued on Slurm says: where its report will be."""
    queued = {"queued": "slurm", "logs": str(logs), "report": str(Path(logs) / report)}
    if args.json:
        print(json.dumps(queued))
    else:
        print(f"queued on Slurm; the report will be {queued['report']} (`instructkit {command}` with the same "
              "arguments and --executor local then prints it without running again)", file=sys.stderr)
    return 0


def _checks_of(args: argparse.Namespace, **extra: object) -> Checks:
    """The options `validate` and `stats` share as a sharded run's `Checks` (files named absolutely: a task runs
    elsewhere), with `extra` (validate's own)."""
    found = corpus_checks_of(args)
    return Checks(format=args.format or "", column=args.column, columns=args.columns,
                  max_row_bytes=args.max_row_bytes, template=template_of(args), tokenizer=tokenizer_of(args),
                  max_length=args.max_length,
                  response_schema=os.path.abspath(args.response_schema) if args.response_schema else None,
                  response_scope=args.response_scope,
                  image_root=os.path.abspath(args.image_root) if args.image_root else None,
                  near_dup=found["near_dup"], benchmark=found["benchmark"], **extra)  # type: ignore[arg-type]


def _pair(item: str) -> tuple[str, str]:
    key, sep, value = item.partition("=")
    if not sep or not key:
        raise InputError(f"--sbatch {item!r}: write KEY=VALUE, e.g. --sbatch account=myproject")
    return key.lstrip("-"), value


def _venv_command() -> str | None:
    """`source` of the running Python's virtual environment, so that a job runs with this one."""
    activate = Path(sys.prefix) / "bin" / "activate"
    return f"source {activate}" if sys.prefix != sys.base_prefix and activate.is_file() else None


def _default_logs(inputs: list[str], options: str, executor: str, tasks: int) -> str:
    """instructkit-runs/ID: the same shards, options and tasks give the same folder, so a rerun resumes."""
    key = json.dumps([[os.path.abspath(i) for i in inputs], executor, tasks, options])
    return os.path.join("instructkit-runs", hashlib.sha256(key.encode()).hexdigest()[:12])

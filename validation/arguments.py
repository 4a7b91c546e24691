"""The argparse helpers every package's `cli.py` shares: how a dataset is named on the command
line, whole-number options, and printing a report (JSON or rich). Argument handling only; the
commands' logic lives in library functions."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import Any, ContextManager, Protocol

from validation.checks.rules import HasRules


class Names(Protocol):
    """How the command line's edge turns a name into the object the library takes: the top-level
    `instructkit` command supplies it to every subcommand as `args.names` (validation imports no
    template package, and looks no name up)."""

    def template(self, name: str, tokenizer: str | None = None) -> HasRules:
        """The template `name` names: a registry name, a Jinja file (its special tokens from
        `tokenizer`), a model (UnknownName when there is none)."""

    def tokenizer(self, name: str) -> Any:
        """A tokenizer for counting tokens: a tokenizer.json, a folder, a hub id or a GGUF file."""


def template_of(args: argparse.Namespace) -> HasRules | None:
    """`--template` as the object the library takes (None when not given)."""
    names: Names = args.names
    return names.template(args.template, getattr(args, "tokenizer", None)) if args.template else None


def tokenizer_of(args: argparse.Namespace) -> Any:
    """`--tokenizer` as a loaded tokenizer (None when not given)."""
    names: Names = args.names
    return names.tokenizer(args.tokenizer) if args.tokenizer else None


def at_least(minimum: int) -> Callable[[str], int]:
    """An argparse type: a whole number >= `minimum` (argparse says which option is wrong)."""
    def whole(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"{value} is less than {minimum}")
        return value

    whole.__name__ = f"whole number >= {minimum}"
    return whole


def source_arguments(parser: argparse.ArgumentParser, format_flag: str = "--format", *,
                     path_help: str = "file, save_to_disk folder or hub dataset id", optional: bool = False,
                     images: bool = False) -> None:
    """PATH, --format, --column and --split: how every command names a dataset (shared with render;
    `optional`: PATH may be left out, the command taking its rows otherwise; `images`: the command
    reads the images rows name, from --image-root)."""
    parser.add_argument("path", metavar="PATH", nargs="?" if optional else None, help=path_help)
    parser.add_argument(format_flag, "--format" if format_flag != "--format" else "-f", dest="format",
                        metavar="FORMAT", help="messages, sharegpt, alpaca, prompt-completion, qa or text "
                        "(default: detected from the rows)")
    parser.add_argument("--column", metavar="NAME", help="the messages or text column when not the default "
                        "(e.g. content for the-stack-smol)")
    parser.add_argument("--split", default="train", help="split of a hub dataset or DatasetDict (default train)")
    parser.add_argument("--subset", metavar="NAME", help="a hub dataset's configuration (openai/gsm8k: main, "
                        "HuggingFaceTB/smoltalk: all)")
    parser.add_argument("--encoding", metavar="NAME", help="the text encoding of a file that is not UTF-8 (cp949 "
                        "for a CSV saved by Korean Excel, euc-kr, shift_jis, latin-1)")
    parser.add_argument("--map", dest="columns", metavar="SRC=FIELD,...", help="read your own column names as a "
                        "format's fields, e.g. --map response=completion or --map input=prompt,output=completion "
                        "(issues still name your columns)")
    parser.add_argument("--max-row-bytes", type=at_least(1), metavar="N", help="a JSONL row longer than N bytes is "
                        "an error (row-too-large), skipped without being read into memory (default 268435456, "
                        "256 MiB)")
    if images:
        parser.add_argument("--image-root", metavar="DIR", help="the folder relative image paths are read from "
                            "(default: the dataset's folder)")


def share(text: str) -> float:
    """An argparse type: a number strictly between 0 and 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"{value:g} is not between 0 and 1")
    return value


share.__name__ = "number between 0 and 1"


def corpus_arguments(parser: argparse.ArgumentParser, *, decontaminate: bool = True) -> None:
    """--near-dup and --decontaminate, with their options: checks of the corpus as a whole."""
    group = parser.add_argument_group("corpus checks")
    group.add_argument("--near-dup", nargs="?", const=0.8, type=share, metavar="THRESHOLD",
                       help="cluster near-duplicate rows (MinHash LSH at this Jaccard similarity, default 0.8); "
                       "each row after its cluster's first is a fuzzy-duplicate error")
    group.add_argument("--near-dup-scope", choices=("conversation", "assistant", "user"), default="conversation",
                       help="with --near-dup: compare every message (default), or one role's messages only")
    group.add_argument("--shingle", type=at_least(1), default=10, metavar="N",
                       help="with --near-dup: characters a shingle (default 10)")
    group.add_argument("--num-perm", type=at_least(2), default=128, metavar="N",
                       help="with --near-dup: MinHash values a row (default 128)")
    if not decontaminate:
        return
    group.add_argument("--decontaminate", metavar="BENCH", help="rows that share --ngram words with a row of this "
                       "benchmark (file, folder or hub id) are benchmark-overlap errors")
    group.add_argument("--bench-field", metavar="NAME", help="with --decontaminate: the benchmark's text field "
                       "(default: every string of each row)")
    group.add_argument("--bench-split", default="test", metavar="SPLIT",
                       help="with --decontaminate: the split of a hub benchmark (default test)")
    group.add_argument("--ngram", type=at_least(1), default=13, metavar="N",
                       help="with --decontaminate: words a shared run must have (default 13)")


def scale_arguments(parser: argparse.ArgumentParser) -> None:
    """--executor and its options: a sharded dataset checked as datatrove pipeline tasks (validation/scale)."""
    group = parser.add_argument_group("scale-out (PATH and MORE: shards of one dataset; docs/scale.md)")
    group.add_argument("--executor", choices=("local", "ray", "slurm"), help="read the shards as datatrove tasks: "
                       "processes on this machine, a Ray cluster (RAY_ADDRESS, else one started here) or Slurm jobs; "
                       "rows are numbered across the shards in order and the report is the one the joined file gets")
    group.add_argument("--tasks", type=at_least(1), metavar="N", help="tasks the shards are read in (default: this "
                       "machine's CPUs for local, else 16)")
    group.add_argument("--workers", type=at_least(1), metavar="W", help="tasks running at once (default: all)")
    group.add_argument("--logs", metavar="DIR", help="the run's folder: plan, work, datatrove's logs and completion "
                       "markers; the same command again skips finished tasks (default: instructkit-runs/ID, ID from "
                       "the shards and options)")
    group.add_argument("--partition", metavar="NAME", help="Slurm: the partition (required with --executor slurm)")
    group.add_argument("--time", default="4:00:00", metavar="LIMIT", help="Slurm: each task's time limit (default "
                       "4:00:00)")
    group.add_argument("--cpus-per-task", type=at_least(1), default=1, metavar="N", help="Slurm: CPUs a task "
                       "(default 1)")
    group.add_argument("--mem-per-cpu", type=at_least(1), default=2, metavar="GB", help="Slurm: memory per CPU in GB "
                       "(default 2)")
    group.add_argument("--env", metavar="COMMAND", help="Slurm: the command that activates this environment in a job "
                       "(default: source the running Python's venv)")
    group.add_argument("--sbatch", action="append", default=[], metavar="KEY=VALUE", help="Slurm: another sbatch "
                       "option, e.g. --sbatch account=myproj (repeatable)")


def corpus_checks_of(args: argparse.Namespace) -> dict[str, Any]:
    """--near-dup and --decontaminate as the objects `validate` takes (`near_dup`, `benchmark`);
    numpy and rensa are imported only for them."""
    found: dict[str, Any] = {"near_dup": None, "benchmark": None}
    if args.near_dup is not None:
        from validation.checks.near_duplicates import NearDupOptions

        found["near_dup"] = NearDupOptions(threshold=args.near_dup, shingle=args.shingle, num_perm=args.num_perm,
                                           scope=args.near_dup_scope)
    if getattr(args, "decontaminate", None) is not None:
        from validation.checks.contamination import Benchmark

        found["benchmark"] = Benchmark.load(args.decontaminate, field=args.bench_field, split=args.bench_split,
                                            ngram=args.ngram)
    return found


def opened(args: argparse.Namespace, path: str | None = None) -> ContextManager[Any]:
    """The dataset the command names (PATH, or `path`), opened once with its --format, --column,
    --split and --max-row-bytes; closed when the block ends."""
    from validation.readers.source import dataset_of

    return dataset_of(path or args.path, format=args.format, column=args.column, split=args.split,
                      max_row_bytes=args.max_row_bytes, columns=args.columns,
                      subset=args.subset, encoding=args.encoding, image_root=getattr(args, "image_root", None))


def check_outputs(args: argparse.Namespace, *options: str, inputs: tuple[str, ...] = ("path",)) -> None:
    """Before any work: refuse an output option that names one of the command's input files
    (`validation.outputs.refuse_inputs`), the option named in the message."""
    from validation.errors import InputError
    from validation.outputs import refuse_inputs

    sources = [getattr(args, name, None) for name in inputs]
    for option in options:
        try:
            refuse_inputs(getattr(args, option), sources)
        except InputError as exc:
            raise InputError(f"--{option.replace('_', '-')}: {exc}") from None


OUTPUT_OPTIONS = ("write_clean", "issues_jsonl", "output", "per_row", "json_out", "plot", "html")


def stdout_taken(args: argparse.Namespace) -> bool:
    """Whether an output option is `-` (stdout): the human report then goes to stderr."""
    return any(getattr(args, option, None) == "-" for option in OUTPUT_OPTIONS)


def print_converted(report, args: argparse.Namespace) -> int:  # noqa: ANN001 - Report, imported lazily
    """What `convert` says of its output (rows written, or that none could be and OUT was not written) on stderr,
    then its report; the exit code."""
    if not args.json and report.rows and not report.valid:
        print(f"no row of {report.rows} could be converted to {args.to}: {args.output} was not written",
              file=sys.stderr)
    elif not args.json:
        print(f"wrote {report.valid} of {report.rows} rows to {args.output} ({args.to})", file=sys.stderr)
    print_report(report, args)
    return 0 if report.ok else 1


STATS_INPUTS = ("path", "compare", "response_schema")  # what `stats` reads: never written over


def compared_stats(args: argparse.Namespace, options: dict[str, Any]) -> Any:
    """The statistics of --compare OTHER, read with `options` (those `stats` read PATH with); None without it."""
    if not args.compare:
        return None
    from validation.statistics.conversations import stats

    with opened(args, args.compare) as data:
        return stats(data, **options)


def print_stats(result: Any, args: argparse.Namespace, other: Any = None) -> int:
    """`stats`' terminal tables (on stderr when the summary or an output goes to stdout), its summary as JSON (--json,
    --json-out) and its figures (--plot, --html); with `other` (--compare) both side by side and the rows of `other`
    that repeat rows of `result`. The exit code."""
    from rich.console import Console  # (these import Polars: after stats, which reads while it imports it)

    from validation.outputs import write_file
    from validation.statistics.conversations import leakage
    from validation.statistics.report import render_compare, render_terminal

    console = Console(stderr=args.json == "-" or stdout_taken(args))
    payload = {"path": result.name, "format": result.format, **result.summary.to_json()}
    if other is not None:
        leaked = leakage(result, other)
        payload = {"a": payload, "b": {"path": other.name, "format": other.format, **other.summary.to_json()},
                   **leaked.to_json()}
        render_compare(result, other, leaked, console)
    else:
        render_terminal(result, console)
    old_form = args.json not in (None, "-")  # `--json OUT`: a file, as before --json-out
    if old_form:
        print(f"note: `stats --json OUT` is deprecated; use `--json-out {args.json}` (--json alone prints to "
              "stdout)", file=sys.stderr)
    text = json.dumps(payload, ensure_ascii=False, indent=1)
    if args.json == "-":
        print(text)
    sources = [getattr(args, name) for name in STATS_INPUTS] + list(args.more)  # (the shards too, with --executor)
    for out in dict.fromkeys(path for path in (args.json_out, args.json if old_form else None) if path):
        write_file(out, text + "\n", inputs=sources)
    for path, html in ((args.plot, False), (args.html, True)):
        if path:
            result.plot(path, html=html, inputs=sources)
            console.print(f"wrote {path}", markup=False)
    return 0


def print_report(report, args: argparse.Namespace) -> None:  # noqa: ANN001 - Report, imported lazily
    """--json: the report as one JSON object on stdout; else the rich report (on stderr when an
    output is written to stdout)."""
    if args.json:
        json.dump(report.to_json(), sys.stdout, ensure_ascii=False)
        sys.stdout.write("\n")
        return
    from rich.console import Console

    from validation.report import render_report

    render_report(report, Console(stderr=stdout_taken(args)), first=getattr(args, "show", 5))

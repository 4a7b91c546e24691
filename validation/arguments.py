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
                     path_help: str = "file, save_to_disk folder or hub dataset id", optional: bool = False) -> None:
    """PATH, --format, --column and --split: how every command names a dataset (shared with render;
    `optional`: PATH may be left out, the command taking its rows otherwise)."""
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


def opened(args: argparse.Namespace, path: str | None = None) -> ContextManager[Any]:
    """The dataset the command names (PATH, or `path`), opened once with its --format, --column,
    --split and --max-row-bytes; closed when the block ends."""
    from validation.readers.source import dataset_of

    return dataset_of(path or args.path, format=args.format, column=args.column, split=args.split,
                      max_row_bytes=args.max_row_bytes, columns=args.columns,
                      subset=args.subset, encoding=args.encoding)


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

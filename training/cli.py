"""`instructkit train` and `instructkit generate`: parse arguments, call the library, summarise."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    train = commands.add_parser(
        "train", help="fine-tune a model on a validated dataset (TRL SFTTrainer)",
        description="validate ► stats ► prepare ► train ► save. Exit 1 when the dataset has errors and "
                    "on_invalid is stop (before any model is loaded); 2 for a bad config.")
    train.add_argument("config", metavar="CONFIG.yaml", help="training config (see docs/training.md)")
    train.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                       help="override a config key, e.g. --set sft.learning_rate=1e-4 (repeatable)")
    train.add_argument("--dry-run", action="store_true",
                       help="stop before training and show one prepared example with its trained tokens")
    train.set_defaults(run=run_train)

    generate = commands.add_parser("generate", help="greedy reply of a trained model to one prompt",
                                   description="Quick check of a result: render the prompt with the model's "
                                               "chat template and decode greedily up to its stop tokens.")
    generate.add_argument("model", metavar="MODEL_DIR", help="a folder written by `instructkit train`")
    generate.add_argument("prompt", help="the user message")
    generate.add_argument("--max-new-tokens", type=int, default=128)
    generate.set_defaults(run=run_generate)


def run_train(args: argparse.Namespace) -> int:
    from rich.console import Console

    from training.config import ConfigError, load_config
    from training.pipeline import InvalidDataset, PushFailed, run
    from validation.io import InputError
    from validation.report import render

    console = Console()
    try:
        config = load_config(args.config, overrides=args.set)
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    try:
        summary = run(config, dry_run=args.dry_run, console=console)
    except InvalidDataset as exc:
        render(exc.report, console)
        console.print(f"[red]{exc}[/]")
        return 1
    except ConfigError as exc:
        raise InputError(str(exc)) from None
    except PushFailed as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    from training.pipeline import is_main_process

    if summary is not None and is_main_process():
        _summary(summary, console)
    return 0


def _summary(summary, console) -> None:  # noqa: ANN001 - RunSummary, imported lazily
    from rich.table import Table

    table = Table(title="training summary", title_justify="left", show_header=False)
    rows = [("model", summary.model), ("template", summary.template),
            ("rows", f"{summary.train_rows} train, {summary.eval_rows} eval, {summary.dropped_rows} dropped"),
            ("steps", str(summary.steps)), ("time", f"{summary.seconds:.1f} s"),
            ("tokens", f"{summary.train_tokens:,} ({summary.tokens_per_second:,.0f}/s)"),
            ("loss", f"{summary.first_loss:.3f} → {summary.final_loss:.3f}" if summary.final_loss is not None else "-"),
            ("eval loss", str(summary.eval_loss)), ("device", f"{summary.device}, {summary.precision}"),
            ("saved", summary.output_dir)]
    for key, value in rows:
        table.add_row(key, value)
    console.print(table)


def run_generate(args: argparse.Namespace) -> int:
    from pathlib import Path

    from templating import detect, get_template
    from training.models import load_model
    from training.samples import generate
    from validation.io import InputError

    if not Path(args.model).is_dir():
        raise InputError(f"{args.model}: no such model folder")
    model, tokenizer, _ = load_model(args.model)
    name = detect(tokenizer)
    if name is None:
        raise InputError(f"{args.model}: its chat template is not one the registry knows")
    print(generate(model, tokenizer, get_template(name), [args.prompt], max_new_tokens=args.max_new_tokens)[0])
    return 0

"""`instructkit validate`, `convert` and `stats`: parse arguments, call the library, report."""

from __future__ import annotations

import argparse
import json
import sys

from validation.arguments import (STATS_INPUTS, Names, at_least, check_outputs, compared_stats, corpus_arguments,
                                  corpus_checks_of, opened, print_converted, print_report, print_stats, scale_arguments,
                                  source_arguments, stdout_taken, template_of, tokenizer_of)
from validation.report import MAX_ISSUES


def register(commands: argparse._SubParsersAction) -> None:
    validate = commands.add_parser(
        "validate", help="check a dataset row by row before training",
        description="Check every row of a dataset. Exit 0: no errors; 1: errors found; 2: unusable input.")
    source_arguments(validate, images=True)
    validate.add_argument("--template", metavar="NAME|FILE|MODEL", help="add checks of this chat template (special "
                          "tokens inside content, roles it refuses): a registry name, a Jinja file (with "
                          "--tokenizer unless it sits in its model's folder), or a model folder, .gguf or hub id")
    validate.add_argument("--max-length", type=at_least(1), metavar="N", help="warn about conversations longer than N "
                          "(tokens with --tokenizer, else characters)")
    validate.add_argument("--tokenizer", metavar="PATH_OR_ID", help="measure --max-length in tokens: a "
                          "tokenizer.json, a folder, a hub id, or HuggingFaceTB/SmolLM2-135M-Instruct (embedded)")
    validate.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    validate.add_argument("--write-clean", metavar="OUT", help="write exactly the valid rows, unchanged, in order")
    validate.add_argument("--fix", action="store_true", help="repair mechanical problems first (role aliases, "
                          "consecutive turns, system fold and edge whitespace for --template) and list every change")
    validate.add_argument("--show", type=at_least(0), default=5, metavar="K", help="rows shown per code (default 5)")
    validate.add_argument("--max-issues", type=at_least(0), default=MAX_ISSUES, metavar="N",
                          help=f"keep the first N issues of each code in the report; counts stay exact (default "
                          f"{MAX_ISSUES:,})")
    validate.add_argument("--issues-jsonl", metavar="OUT", help="write every issue to OUT as it is found, one JSON "
                          "object a line")
    validate.add_argument("--response-schema", metavar="SCHEMA.json", help="assistant replies must be JSON that "
                          "validates against this JSON Schema (structured outputs)")
    validate.add_argument("--response-scope", choices=("last", "all"), default="last",
                          help="with --response-schema: check the last assistant reply of each row (default) or all")
    validate.add_argument("--reward-columns", metavar="NAME[:TYPE],...", help="fields each row must hold beside its "
                          "messages, e.g. answer:string,level:integer (TYPE: string, number, integer, boolean, array, "
                          "object, any): what GRPO's reward functions read from prompt-only rows")
    corpus_arguments(validate)
    validate.add_argument("more", nargs="*", metavar="MORE", help="more shards of the same dataset (with --executor)")
    scale_arguments(validate)
    validate.set_defaults(run=run_validate)

    convert = commands.add_parser(
        "convert", help="convert a dataset between formats",
        description="Convert between messages, sharegpt, alpaca, prompt-completion, qa and text. Rows the "
                    "target cannot hold are reported, never dropped silently (exit 1 when any).")
    source_arguments(convert, format_flag="--from")
    convert.add_argument("-o", "--output", required=True, metavar="OUT",
                         help="output file (.jsonl, .json, .parquet or .csv; .gz, .bz2, .xz after the text "
                         "kinds compress it)")
    convert.add_argument("--to", required=True, metavar="FORMAT", help="target format")
    convert.add_argument("--to-column", metavar="NAME", help="column name of the target messages/text format")
    convert.add_argument("--image-layout", choices=("hf", "openai", "placeholders"),
                         help="write rows with images in this layout: hf ({\"type\": \"image\"} parts and an "
                         "images column, as TRL reads them), openai (image_url parts), placeholders (<image> in "
                         "the text and an images column, as LLaMA-Factory reads them)")
    convert.add_argument("--fix", action="store_true", help="repair mechanical problems first (see validate --fix) "
                         "and list every change")
    convert.add_argument("--template", metavar="NAME|FILE|MODEL", help="with --fix: fold the system prompt and strip "
                         "whitespace as this template needs (as validate's --template)")
    convert.add_argument("--json", action="store_true", help="print the report as one JSON object")
    convert.add_argument("more", nargs="*", metavar="MORE", help="more shards of the same dataset (with --executor: "
                         "converted into one JSONL file, rows in order)")
    scale_arguments(convert)
    convert.set_defaults(run=run_convert)

    stats = commands.add_parser(
        "stats", help="statistics of a dataset: lengths, roles, tokens, duplicates",
        description="Describe a dataset before training: turns, roles, per-role length percentiles, tokens and "
                    "trainable tokens, truncation at --max-length, duplicates, system prompts.")
    source_arguments(stats, images=True)
    stats.add_argument("more", nargs="*", metavar="MORE", help="more datasets (the sources of a mixture): one table "
                       "with a row per source and one for all of them; with --executor: more shards of one dataset")
    stats.add_argument("--tokenizer", metavar="PATH_OR_ID", help="count tokens: a tokenizer.json, a folder, a "
                       "hub id, or HuggingFaceTB/SmolLM2-135M-Instruct (the embedded model)")
    stats.add_argument("--template", metavar="NAME|FILE|MODEL", help="with --tokenizer: trainable tokens under this "
                       "template (as validate's --template)")
    stats.add_argument("--max-length", type=at_least(1), metavar="N", help="how many conversations exceed N and lose "
                       "assistant tokens to truncation")
    stats.add_argument("--compare", metavar="OTHER", help="a second dataset (e.g. the eval split) side by side, "
                       "with rows of OTHER that repeat rows of PATH")
    stats.add_argument("--json", nargs="?", const="-", metavar="OUT", help="print the summary as one JSON object "
                       "on stdout, as every command does (the terminal report goes to stderr); `--json OUT` "
                       "still writes a file but is deprecated: use --json-out")
    stats.add_argument("--json-out", metavar="OUT", help="write the summary as JSON to OUT")
    stats.add_argument("--plot", metavar="OUT.png", help="write length histograms as PNG")
    stats.add_argument("--response-schema", metavar="SCHEMA.json", help="count the assistant replies that are JSON "
                       "valid against this JSON Schema")
    stats.add_argument("--response-scope", choices=("last", "all"), default="last",
                       help="with --response-schema: the last reply of each row (default) or all")
    stats.add_argument("--html", metavar="OUT.html", help="write a self-contained HTML report")
    corpus_arguments(stats, decontaminate=False)
    scale_arguments(stats)
    stats.set_defaults(run=run_stats)

    publish = commands.add_parser(
        "publish", help="write a checked dataset and its card as a folder the hub reads (and push it)",
        description="Check a dataset, write its valid rows (data/SPLIT.jsonl), a dataset card (README.md: the hub's "
                    "metadata, what was checked, statistics) and instructkit.json into a folder; push it with "
                    "--push-to-hub. Exit 0: published; 1: pushed nothing (the folder is complete); 2: nothing usable.")
    source_arguments(publish, images=True)
    publish.add_argument("--to", required=True, metavar="DIR", help="the folder to write (created; files in it are "
                         "replaced)")
    publish.add_argument("--push-to-hub", metavar="USER/NAME", help="then upload the folder as this hub dataset")
    publish.add_argument("--private", action="store_true", help="with --push-to-hub: a private dataset")
    publish.add_argument("--license", default="unknown", help="the card's licence id (apache-2.0, mit, cc-by-4.0, "
                         "...; default unknown)")
    publish.add_argument("--pretty-name", metavar="NAME", help="the card's title (default: the folder's name)")
    publish.add_argument("--language", metavar="CODE,...", help="the card's languages, e.g. en,ko")
    publish.add_argument("--template", action="append", default=[], metavar="NAME|FILE|MODEL",
                         help="also check the rows under this chat template (repeatable); the card lists the result")
    corpus_arguments(publish)
    publish.add_argument("--json", action="store_true", help="print what was written as one JSON object")
    publish.set_defaults(run=run_publish)


def run_validate(args: argparse.Namespace) -> int:
    from validation.checks.required import parse_required
    from validation.validate import validate

    check_outputs(args, "issues_jsonl", inputs=("path", "response_schema", "decontaminate"))
    check_outputs(args, "write_clean", inputs=("response_schema", "decontaminate"))  # (it may replace PATH)
    if args.executor or args.more:
        from validation.scale.cli import run_sharded

        return run_sharded(args)
    with opened(args) as data:
        template = template_of(args)  # (after the dataset opens: a missing file is said first)
        report = validate(data, format=args.format, column=args.column, template=template,
                          max_length=args.max_length, tokenizer=tokenizer_of(args), split=args.split,
                          write_clean=args.write_clean, progress=not args.json, fix=args.fix,
                          max_issues=args.max_issues, issues_jsonl=args.issues_jsonl,
                          response_schema=args.response_schema, response_scope=args.response_scope,
                          reward_columns=parse_required(args.reward_columns) if args.reward_columns else None,
                          **corpus_checks_of(args))
    print_report(report, args)
    return 0 if report.ok else 1


def run_convert(args: argparse.Namespace) -> int:
    from validation.convert import convert

    if args.executor or args.more:
        from validation.scale.cli import run_convert_sharded

        return run_convert_sharded(args)
    with opened(args) as data:
        report = convert(data, args.output, to=args.to, format=args.format, column=args.column,
                         to_column=args.to_column, split=args.split, fix=args.fix,
                         template=template_of(args) if args.fix else None,  # (--template serves --fix only)
                         image_layout=args.image_layout)
    return print_converted(report, args)


def _run_sources(args: argparse.Namespace, options: dict) -> int:
    """`stats A B C`: a row per source and one for all of them (validation/statistics/sources.py)."""
    from validation.errors import InputError
    from validation.statistics.sources import render_sources, source_stats

    if args.compare or args.plot or args.html:
        raise InputError("several datasets: --compare, --plot and --html describe one dataset; give one PATH")
    with opened(args):  # (the first source: a missing file is said before any work)
        options["template"] = template_of(args)
    result = source_stats([args.path, *args.more], lambda path: opened(args, path), **options,
                          response_schema=args.response_schema, response_scope=args.response_scope,
                          near_dup=corpus_checks_of(args)["near_dup"])
    from rich.console import Console

    render_sources(result, Console(stderr=args.json == "-" or stdout_taken(args)))
    text = json.dumps(result.to_json(), ensure_ascii=False, indent=1)
    if args.json == "-":
        print(text)
    for out in dict.fromkeys(path for path in (args.json_out, args.json if args.json not in (None, "-") else None)
                             if path):
        from validation.outputs import write_file

        write_file(out, text + "\n", inputs=[args.path, *args.more])
    return 0


def run_publish(args: argparse.Namespace) -> int:
    from validation.errors import PushFailed
    from validation.publish import publish

    check_outputs(args, "to", inputs=("decontaminate",))
    names: Names = args.names
    templates = [names.template(name) for name in args.template]
    with opened(args) as data:
        try:
            done = publish(data, args.to, split=args.split, license=args.license, pretty_name=args.pretty_name,
                           language=[c.strip() for c in args.language.split(",") if c.strip()] if args.language
                           else None, templates=templates, push_to=args.push_to_hub, private=args.private,
                           progress=not args.json,
                           **corpus_checks_of(args))
        except PushFailed as exc:
            print(f"instructkit publish: {exc}", file=sys.stderr)
            return 1
    facts = json.loads((done.folder / "instructkit.json").read_text(encoding="utf-8"))
    if args.json:
        print(json.dumps({"folder": str(done.folder), **facts}, ensure_ascii=False))
    else:
        split = facts["splits"][args.split]
        left = f"; {split['validation']['left_out']:,} rows with errors left out" if split["validation"]["left_out"] \
            else ""
        print(f"published {split['rows']:,} rows to {done.folder} (data: {split['data_file']}, card: README.md){left}"
              + (f"; pushed to https://huggingface.co/datasets/{done.pushed_to}" if done.pushed_to else ""),
              file=sys.stderr)
    return 0


def run_stats(args: argparse.Namespace) -> int:
    from validation.statistics.conversations import stats

    check_outputs(args, "json_out", "plot", "html", *(("json",) if args.json != "-" else ()), inputs=STATS_INPUTS)
    if args.executor:
        from validation.scale.cli import run_stats_sharded

        return run_stats_sharded(args)
    tokenizer = tokenizer_of(args)  # once for both sides of --compare
    options = {"tokenizer": tokenizer, "template": None, "max_length": args.max_length,
               "format": args.format, "column": args.column, "split": args.split,
               "progress": True}  # on stderr, and only on a terminal
    if args.more:
        return _run_sources(args, options)
    with opened(args) as data:
        options["template"] = template_of(args)
        result = stats(data, **options, response_schema=args.response_schema, response_scope=args.response_scope,
                       near_dup=corpus_checks_of(args)["near_dup"])
    return print_stats(result, args, compared_stats(args, options))

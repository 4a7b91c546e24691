"""`instructkit templates` and `instructkit render`: parse arguments, call the registry, print."""

from __future__ import annotations

import argparse
import json
import sys

from validation.cli import source_arguments


def register(commands: argparse._SubParsersAction) -> None:
    templates = commands.add_parser("templates", help="list the chat templates and their special tokens",
                                    description="List the registered chat templates.")
    templates.add_argument("--json", action="store_true", help="print the list as JSON")
    templates.set_defaults(run=run_templates)

    render = commands.add_parser(
        "render", help="render a dataset in a model's prompt format",
        description="Render every valid row with a chat template and write JSONL "
                    '{"text": ..., "assistant_spans": [[start, end], ...]} (character offsets).')
    source_arguments(render)
    render.add_argument("--template", required=True, metavar="NAME", help="template name (see `templates`)")
    render.add_argument("-o", "--output", metavar="OUT", help="JSONL output (default: stdout)")
    render.add_argument("--add-generation-prompt", action="store_true", help="end with the assistant header")
    render.add_argument("--show-spans", action="store_true",
                        help="print one row in colour with the trained spans highlighted, instead of JSONL")
    render.add_argument("--row", type=int, default=1, metavar="N", help="the row --show-spans shows (default 1)")
    render.set_defaults(run=run_render)


def run_templates(args: argparse.Namespace) -> int:
    from templating import list_templates

    specs = list_templates()
    if args.json:
        json.dump([{"name": s.name, "aliases": list(s.aliases), "system": s.supports_system,
                    "special_tokens": list(s.special_tokens), "end_of_turn": s.end_of_turn,
                    "bos_token": s.bos_token, "eos_token": s.eos_token, "stop_strings": list(s.stops),
                    "generation_prompt": s.generation_prompt, "default_system": s.default_system,
                    "source": s.source} for s in specs], sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0
    from rich.console import Console
    from rich.table import Table

    table = Table("name", "aliases", "system", "end of turn", "special tokens")
    for s in specs:
        table.add_row(s.name, ", ".join(s.aliases), "yes" if s.supports_system else "no", s.end_of_turn,
                      " ".join(s.special_tokens), end_section=False)
    Console().print(table)
    return 0


def run_render(args: argparse.Namespace) -> int:
    from templating.render import render_rows, show_spans

    if args.show_spans:
        return show_spans(args.path, template=args.template, row=args.row, format=args.format,
                          column=args.column, split=args.split, add_generation_prompt=args.add_generation_prompt)
    out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout
    try:
        report = render_rows(args.path, out, template=args.template, format=args.format, column=args.column,
                             split=args.split, add_generation_prompt=args.add_generation_prompt)
    finally:
        if out is not sys.stdout:
            out.close()
    print(f"rendered {report.valid} of {report.rows} rows with {args.template}", file=sys.stderr)
    if not report.ok:
        from rich.console import Console

        from validation.report import render

        render(report, Console(stderr=True))
    return 0 if report.ok else 1

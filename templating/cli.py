"""`instructkit templates` (and `templates check`), `render` and `audit`: parse arguments, call the library, print."""

from __future__ import annotations

import argparse
import json
import sys
from contextlib import nullcontext

from templating.supervision.conversations import OVER_LENGTH, TRAIN_ON
from validation.arguments import at_least, check_outputs, opened, print_report, source_arguments
from validation.errors import InputError
from validation.outputs import open_for_writing
from templating.embedded import load_tokenizer


def register(commands: argparse._SubParsersAction) -> None:
    templates = commands.add_parser("templates", help="list the chat templates and their special tokens",
                                    description="List the registered chat templates.")
    templates.add_argument("--json", action="store_true", help="print the list as JSON")
    templates.set_defaults(run=run_templates)
    actions = templates.add_subparsers(dest="action", metavar="{check}")
    check = actions.add_parser(
        "check", help="search a template for counter-examples to the training contract",
        description="Check a template's training contract with generated conversations (Hypothesis): every "
                    "assistant turn trained, end-of-turn trained, one BOS, prefix stability, generation prompt "
                    "equal to the text before the reply. Exit 0: all pass; 1: a property fails.")
    check.add_argument("target", metavar="NAME|FILE|MODEL", help="registry name, a Jinja file, or a model/"
                       "tokenizer (folder, .gguf, hub id) whose own chat_template is checked")
    check.add_argument("--tokenizer", metavar="T", help="also check at the token level with this tokenizer")
    check.add_argument("--end-of-turn", metavar="TEXT", help="a Jinja file's end-of-turn marker (default: the "
                       "tokenizer's EOS)")
    check.add_argument("--bos", metavar="TEXT", help="a Jinja file's BOS token (default: the tokenizer's)")
    check.add_argument("--examples", type=at_least(1), default=200, metavar="N", help="conversations tried per "
                       "property (default 200)")
    check.add_argument("--json", action="store_true", help="print the outcomes as JSON")
    check.set_defaults(run=run_check)

    render = commands.add_parser(
        "render", help="render a dataset in a model's prompt format",
        description="Render every valid row with a chat template and write JSONL "
                    '{"text": ..., "assistant_spans": [[start, end], ...]} (character offsets), or the texts '
                    "themselves (--text). One conversation: --messages JSON, or PATH - (stdin).")
    source_arguments(render, optional=True, images=True, path_help="file, save_to_disk folder, hub dataset id, or - to read "
                     "JSON lines (or one JSON array) from stdin")
    render.add_argument("--messages", metavar="JSON", help="render this one conversation instead of a dataset: a "
                        "JSON list of messages (or an object with \"messages\"); prints the text")
    render.add_argument("--template", required=True, metavar="NAME|FILE|MODEL", help="registry name (see "
                        "`templates`), a Jinja file, or a model folder, .gguf or hub id (its own template)")
    render.add_argument("--tokenizer", metavar="T", help="a Jinja file's tokenizer (its special tokens and end-of-turn "
                        "marker), when it is not in the file's folder")
    render.add_argument("-o", "--output", metavar="OUT", help="JSONL output (default: stdout)")
    render.add_argument("--text", action="store_true", help="write each rendered text as it is (rows apart by a "
                        "blank line) instead of JSONL")
    render.add_argument("--add-generation-prompt", action="store_true", help="render each row as an inference "
                        "prompt: ending with the assistant header, where the model starts its reply (rows without "
                        "a reply are fine)")
    render.add_argument("--final-turn", choices=("drop", "refuse"), default="drop", help="with "
                        "--add-generation-prompt, a row that ends with the assistant's reply: leave the reply out "
                        "(drop, default) or refuse the row (reply-in-prompt)")
    render.add_argument("--show-spans", action="store_true",
                        help="print one row in colour with the trained spans highlighted, instead of JSONL")
    render.add_argument("--row", type=at_least(1), default=1, metavar="N",
                        help="the row --show-spans shows (default 1)")
    render.set_defaults(run=run_render)

    audit = commands.add_parser(
        "audit", help="check what training will supervise, with the real tokenizer and template",
        description="For every row, with the model's tokenizer and template: supervised tokens per assistant "
                    "turn, the end-of-turn token inside the mask, what truncation at --max-length cuts, one BOS, "
                    "no special token forged from content. Exit 0: no errors; 1: errors; 2: unusable input.")
    source_arguments(audit, images=True)
    who = audit.add_mutually_exclusive_group(required=True)
    who.add_argument("--model", metavar="M", help="model folder, .gguf file or hub id (its tokenizer is used)")
    who.add_argument("--tokenizer", metavar="T", help="tokenizer folder, .gguf file or hub id")
    audit.add_argument("--template", metavar="NAME|FILE", help="registry template or a Jinja file (default: the "
                       "tokenizer's own, matched to the registry when it is one of ours)")
    audit.add_argument("--max-length", type=at_least(1), metavar="N", help="audit truncation at N tokens")
    audit.add_argument("--max-prompt-length", type=at_least(1), metavar="N", help="preference rows: prompts keep "
                       "their last N tokens (as train's max_prompt_length cuts them)")
    audit.add_argument("--over-length", default="truncate", choices=OVER_LENGTH,
                       help="what happens to rows over --max-length (default truncate, TRL's behaviour)")
    audit.add_argument("--train-on", default="all", choices=TRAIN_ON,
                       help="assistant turns trained: all (default) or the last one; a message's own "
                            "\"train\": true|false decides for its turn either way")
    audit.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    audit.add_argument("--per-row", metavar="OUT.jsonl", help="write one line per audited row: row, tokens, "
                       "supervised tokens (before and after truncation), codes")
    audit.add_argument("--show", type=at_least(0), default=5, metavar="K", help="rows shown per code (default 5)")
    audit.set_defaults(run=run_audit)


def run_templates(args: argparse.Namespace) -> int:
    from dataclasses import asdict

    from templating import get_template, list_templates
    from templating.probes.capabilities import capabilities, part_support, reasoning_support

    specs = sorted(list_templates(), key=lambda s: (s.family_name, s.name))  # grouped by family
    tools = {s.name: capabilities(get_template(s.name)) for s in specs}  # probed from each template
    reasoning = {s.name: reasoning_support(get_template(s.name)) for s in specs}
    parts = {s.name: part_support(get_template(s.name)) for s in specs}
    if args.json:
        json.dump([{"name": s.name, "family": s.family_name, "aliases": list(s.aliases), "system": s.supports_system,
                    "special_tokens": list(s.special_tokens), "end_of_turn": s.end_of_turn,
                    "bos_token": s.bos_token, "eos_token": s.eos_token, "stop_strings": list(s.stops),
                    "generation_prompt": s.generation_prompt, "default_system": s.default_system,
                    "source": s.source, "training_differs": s.training_differs or None,
                    "tools": asdict(tools[s.name]), "reasoning": asdict(reasoning[s.name]),
                    "content_parts": asdict(parts[s.name])} for s in specs],
                  sys.stdout,
                  ensure_ascii=False, indent=1)
        print()
        return 0
    from rich.console import Console
    from rich.table import Table
    from rich.text import Text

    console = Console()
    if console.width < WIDE:  # a table of nine columns would cut tokens short: one block per template
        for s in specs:
            console.print(Text.assemble((s.name, "bold"), f"  aliases: {', '.join(s.aliases) or '-'}  system: "
                                        f"{'yes' if s.supports_system else 'no'}  end of turn: {s.end_of_turn}"))
            console.print(Text(f"  special tokens: {' '.join(s.special_tokens)}"), overflow="fold")
            console.print(Text(f"  tools: {tools[s.name].describe()}; reasoning: {reasoning[s.name].describe()}; "
                               f"content: {parts[s.name].describe()}"))
            console.print(Text(f"  family: {s.family_name}; source: {s.source}"), overflow="fold")
        return 0
    table = Table("family", "name", "aliases", "system", "end of turn", "special tokens", "tools", "reasoning",
                  "content")
    for column in table.columns:
        column.overflow = "fold"  # wrapped, never cut with an ellipsis
    for k, s in enumerate(specs):  # tokens such as [/INST] are text, not rich markup
        first = k == 0 or specs[k - 1].family_name != s.family_name
        last = k == len(specs) - 1 or specs[k + 1].family_name != s.family_name
        table.add_row(s.family_name if first else "", s.name, ", ".join(s.aliases),
                      "yes" if s.supports_system else "no", Text(s.end_of_turn), Text(" ".join(s.special_tokens)),
                      tools[s.name].describe(), reasoning[s.name].describe(), parts[s.name].describe(),
                      end_section=last)
    console.print(table)
    print("Sources: `instructkit templates --json` (field source) and docs/templates.md.")
    return 0


WIDE = 240  # terminal columns from which `templates` prints one table (every token whole, tested)


def run_render(args: argparse.Namespace) -> int:
    from templating.render import given_rows, render_rows, show_spans

    if (args.path is None) == (args.messages is None):
        raise InputError("name a dataset (PATH, or - for stdin) or give --messages: one of the two")
    template = args.names.template(args.template, args.tokenizer)
    with given_rows(args.messages, args.path, format=args.format, column=args.column, columns=args.columns) as rows:
        source = (lambda: nullcontext(rows)) if rows is not None else (lambda: opened(args))
        if args.show_spans:
            with source() as data:
                return show_spans(data, template=template, row=args.row, format=args.format,
                                  column=args.column, split=args.split, final_turn=args.final_turn,
                                  add_generation_prompt=args.add_generation_prompt)
        check_outputs(args, "output")
        # a file (.gz, .bz2, .xz too) appears only when complete
        writing = open_for_writing(args.output, text=True, inputs=[args.path]) if args.output else \
            nullcontext(sys.stdout)
        with source() as data, writing as out:
            report = render_rows(data, out, template=template, format=args.format, column=args.column,
                                 split=args.split, add_generation_prompt=args.add_generation_prompt,
                                 final_turn=args.final_turn, text=args.text or args.messages is not None)
    if args.messages is None:
        print(f"rendered {report.valid} of {report.rows} rows with {template.name}", file=sys.stderr)
    if not report.ok:
        from rich.console import Console

        from validation.report import render_report

        render_report(report, Console(stderr=True))
    return 0 if report.ok else 1


def run_audit(args: argparse.Namespace) -> int:
    from templating.supervision.dataset import audit_rows

    from templating.resolve import chosen_template

    check_outputs(args, "per_row")
    tokenizer = load_tokenizer(args.model or args.tokenizer)
    template = chosen_template(tokenizer, args.template, args.model or args.tokenizer)
    if not args.json:
        print(f"template: {template.name}", file=sys.stderr)
    with opened(args) as data:
        report, audited = audit_rows(data, tokenizer=tokenizer, template=template.rules,
                                     max_length=args.max_length, over_length=args.over_length, format=args.format,
                                     column=args.column, split=args.split, progress=not args.json,
                                     train_on=args.train_on, max_prompt_length=args.max_prompt_length)
    if args.per_row:
        from templating.supervision.dataset import write_per_row

        write_per_row(args.per_row, audited, args.max_length, inputs=[args.path])
    print_report(report, args)
    return 0 if report.ok else 1


def run_check(args: argparse.Namespace) -> int:
    from templating.probes.contract import check, check_target

    template, tokenizer = check_target(args.target, tokenizer=args.tokenizer, end_of_turn=args.end_of_turn,
                                       bos=args.bos)
    if args.json:
        outcomes = check(template, tokenizer, examples=args.examples)
        json.dump({"template": template.name, "token_level": tokenizer is not None,
                   "properties": [o.__dict__ for o in outcomes]}, sys.stdout, ensure_ascii=False, indent=1)
        print()
        return 0 if all(o.passed for o in outcomes) else 1
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    level = "text and tokens" if tokenizer is not None else "text"
    console.print(f"[bold]{escape(template.name)}[/] ({level}):")

    def show(o: object) -> None:  # each property as soon as it is decided
        mark = "[green]pass[/]" if o.passed else "[red]FAIL[/]"
        detail = ": " + escape(o.detail) if o.detail else ""  # details quote template text such as [/INST]
        console.print(f"  {mark} {o.name} ({o.tested} conversations){detail}")
        if o.counterexample is not None:
            console.print(f"       counter-example: {json.dumps(o.counterexample, ensure_ascii=False)}",
                          markup=False, highlight=False)

    outcomes = check(template, tokenizer, examples=args.examples, on_outcome=show)
    return 0 if all(o.passed for o in outcomes) else 1

"""Render a whole dataset with a template: JSONL of text + spans, or a colour preview of one row."""

from __future__ import annotations

import json
from typing import IO, Any

from templating.environment import TemplateError, TemplateLimit
from templating.registry import get_template
from validation.errors import InputError
from validation.checks.reasoning import think_range
from validation.report import Issue, Report
from validation.checks.scan import Scanner
from validation.readers.source import Dataset, Source, dataset_of, source_name
from validation.validate import conversation_of


def _template(name: str) -> Any:
    return get_template(name)  # UnknownName (an InputError) for an unknown name


def render_rows(source: Source, out: IO[str], *, template: str, format: str | None = None,
                column: str | None = None, split: str = "train", add_generation_prompt: bool = False) -> Report:
    """Write one JSON line per valid row; rows with errors or that the template refuses are reported."""
    chat = _template(template)
    with dataset_of(source, format=format, column=column, split=split) as data:
        return _render_rows(data, out, chat, add_generation_prompt)


def _render_rows(data: Dataset, out: IO[str], chat: Any, add_generation_prompt: bool) -> Report:
    fmt, records = data.format, data.records(precise=True)
    issues: list[Issue] = []
    rows = written = 0
    # The template's rules make content with its special tokens an error: never render forged turns.
    for outcome in Scanner(fmt, rules=chat.rules, duplicates=False).scan(records):
        rows += 1
        if not outcome.valid:
            issues += [i for i in outcome.issues if i.severity == "error"]
            continue
        try:
            rendered = chat.render(conversation_of(fmt, outcome.record.data),  # type: ignore[arg-type]
                                   add_generation_prompt=add_generation_prompt)  # with the row's tools
        except TemplateLimit:
            raise  # broken for every row: one line, not a finding per row
        except TemplateError as exc:
            issues.append(Issue.make(outcome.record.row, fmt.root, "template-refused",
                                     f"template {chat.name} refuses this conversation: {exc}"))
            continue
        out.write(json.dumps({"text": rendered.text, "assistant_spans": rendered.assistant_spans},
                             ensure_ascii=False) + "\n")
        written += 1
    return Report(path=data.name, format=fmt.name, rows=rows, valid=written, invalid=rows - written,
                  issues=[data.in_source(i) for i in issues], template=chat.name)


def show_spans(source: Source, *, template: str, row: int = 1, format: str | None = None,
               column: str | None = None, split: str = "train", add_generation_prompt: bool = False) -> int:
    """Print row `row` rendered, trained spans highlighted; 1 when that row cannot be rendered."""
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    chat = _template(template)
    with dataset_of(source, format=format, column=column, split=split) as data:
        found = _row(data, chat, row)
    if found is None:
        raise InputError(f"no row {row} in {source_name(source)}")
    rendered = chat.render(conversation_of(data.format, found), add_generation_prompt=add_generation_prompt)
    text, spans = Text(rendered.text), rendered.assistant_spans
    blocks = [block for start, end in spans if (block := think_range(rendered.text, start, end))]
    for start, end in zip([0] + [end for _, end in spans], [start for start, _ in spans] + [len(rendered.text)]):
        text.stylize("dim", start, end)  # the context: not trained
    for start, end in spans:
        text.stylize("bold green", start, end)
    for start, end in blocks:  # reasoning apart from the answer
        text.stylize("bold magenta", start, end)
    console = Console(highlight=False)
    legend = "[bold green]trained[/]" + (" ([bold magenta]reasoning[/], [bold green]answer[/])" if blocks else "")
    console.print(f"[bold]{escape(source_name(source))}[/] row {row} with {escape(chat.name)}: "
                  f"{legend} / [dim]context[/]")
    console.print(text, markup=False, highlight=False)
    return 0


def _row(data: Dataset, chat: Any, row: int) -> dict[str, Any] | None:
    """Row `row` of `data` when it passes validation with the template's rules; None when there is no such row."""
    scanner = Scanner(data.format, rules=chat.rules, duplicates=False)
    for outcome in scanner.scan(data.records(precise=True)):
        if outcome.record.row != row:
            continue
        if not outcome.valid:
            raise InputError(f"row {row} has errors; run `instructkit validate` to see them")
        return outcome.record.data  # type: ignore[return-value]
    return None

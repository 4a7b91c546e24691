"""Render a whole dataset with a template: JSONL of text + spans, the texts themselves, or a colour
preview of one row. With `add_generation_prompt` each row is an inference prompt: what the model
reads before it writes its reply. Checks that only concern training (no reply to train on, the
conversation ending with the user) do not apply, and a final assistant turn, the reply itself, is
dropped (`final_turn="drop"`) or the row refused (`"refuse"`)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import IO, Any

from templating.environment import TemplateError, TemplateLimit
from validation.checks.images import ImageChecks
from validation.codes import TRAINING_ONLY
from validation.errors import InputError
from validation.checks.reasoning import think_range
from validation.report import Issue, Report
from validation.checks.scan import Scanner
from validation.readers.source import Dataset, Source, dataset_of, open_dataset, source_name
from validation.validate import conversation_of


def _template(template: Any) -> Any:
    """`template` as it is, or the one its name names (templating/resolve.py; UnknownName when none)."""
    from templating.resolve import resolve_template

    return resolve_template(template)


FINAL_TURN = ("drop", "refuse")  # what an inference prompt does with a final assistant turn


def render_rows(source: Source, out: IO[str], *, template: Any, format: str | None = None,
                column: str | None = None, split: str = "train", add_generation_prompt: bool = False,
                final_turn: str = "drop", text: bool = False) -> Report:
    """Write one JSON line per valid row (`text`: the rendered text itself, rows apart by a blank
    line); rows with errors or that the template refuses are reported."""
    chat = _template(template)
    if final_turn not in FINAL_TURN:
        raise InputError(f"final_turn must be one of {', '.join(FINAL_TURN)}, not {final_turn!r}")
    with dataset_of(source, format=format, column=column, split=split) as data:
        return _render_rows(data, out, chat, add_generation_prompt, final_turn, text)


def _render_rows(data: Dataset, out: IO[str], chat: Any, add_generation_prompt: bool, final_turn: str,
                 text: bool) -> Report:
    fmt, records = data.format, data.records(precise=True)
    issues: list[Issue] = []
    rows = written = 0
    # The template's rules make content with its special tokens an error: never render forged turns.
    for outcome in Scanner(fmt, rules=chat.rules, duplicates=False, images=ImageChecks.of(data)).scan(records):
        rows += 1
        errors = _errors(outcome.issues, add_generation_prompt)
        if errors:
            issues += errors
            continue
        row = outcome.record.row
        try:
            conversation = conversation_of(fmt, outcome.record.data)  # type: ignore[arg-type]
            if add_generation_prompt:
                conversation = _prompt(conversation, row, fmt.root, final_turn)
            rendered = chat.render(conversation, add_generation_prompt=add_generation_prompt)  # with the row's tools
        except TemplateLimit:
            raise  # broken for every row: one line, not a finding per row
        except TemplateError as exc:
            issues.append(Issue.make(row, fmt.root, "template-refused",
                                     f"template {chat.name} refuses this conversation: {exc}"))
            continue
        except _Refused as refused:
            issues.append(refused.issue)
            continue
        if text:
            out.write(("\n" if written else "") + rendered.text)
        else:
            out.write(json.dumps({"text": rendered.text, "assistant_spans": rendered.assistant_spans},
                                 ensure_ascii=False) + "\n")
        written += 1
    return Report(path=data.name, format=fmt.name, rows=rows, valid=written, invalid=rows - written,
                  issues=[data.in_source(i) for i in issues], template=chat.name)


@contextmanager
def given_rows(messages: str | None, path: str | None, **options: Any) -> Iterator[Any]:
    """The rows of a conversation given on the command line (`--messages` JSON: a list of messages, or
    an object with "messages"), or of stdin (PATH `-`: JSON lines or one JSON array), as a source
    `render_rows` reads; None when the rows are in a dataset PATH names. `options`: `open_dataset`'s
    (format, column, columns) for stdin's rows."""
    if messages is not None:
        try:
            value = json.loads(messages)
        except ValueError as exc:
            raise InputError(f"--messages: not JSON ({exc})") from None
        if isinstance(value, list):
            value = {"messages": value}
        if not isinstance(value, dict):
            raise InputError(f"--messages: expected a list of messages or an object with \"messages\", got "
                             f"{type(value).__name__}")
        yield [value]
        return
    if path != "-":
        yield None
        return
    import sys
    import tempfile

    data = sys.stdin.buffer.read()
    suffix = ".json" if data.lstrip(b"\xef\xbb\xbf \t\r\n")[:1] == b"[" else ".jsonl"
    with tempfile.TemporaryDirectory(prefix="instructkit-stdin-") as folder:
        held = Path(folder) / f"stdin{suffix}"
        held.write_bytes(data)
        with open_dataset(held, **options) as opened:  # read as a file is (every check, every issue), named as given
            yield replace(opened, name="<stdin>")


def _errors(issues: list[Issue], prompt: bool) -> list[Issue]:
    """The errors that keep a row from being rendered: an inference prompt has no reply to train."""
    return [i for i in issues if i.severity == "error" and not (prompt and i.code in TRAINING_ONLY)]


class _Refused(Exception):
    def __init__(self, issue: Issue) -> None:
        self.issue = issue


def _prompt(conversation: Any, row: int, root: str, final_turn: str) -> Any:
    """The conversation as an inference prompt: a final assistant turn (the reply) dropped, or refused."""
    messages = conversation.messages
    if messages and messages[-1].role == "assistant":
        if final_turn == "refuse":
            raise _Refused(Issue.make(row, root, "reply-in-prompt", "the conversation ends with the assistant's "
                                      "reply; a prompt ends before it (--final-turn drop leaves it out)"))
        conversation = conversation.model_copy(update={"messages": messages[:-1]})
        if not conversation.messages:
            raise _Refused(Issue.make(row, root, "reply-in-prompt", "the conversation is only the assistant's "
                                      "reply: no prompt is left without it"))
    return conversation


def show_spans(source: Source, *, template: Any, row: int = 1, format: str | None = None,
               column: str | None = None, split: str = "train", add_generation_prompt: bool = False,
               final_turn: str = "drop") -> int:
    """Print row `row` rendered, trained spans highlighted; 1 when that row cannot be rendered."""
    from rich.console import Console
    from rich.markup import escape
    from rich.text import Text

    chat = _template(template)
    with dataset_of(source, format=format, column=column, split=split) as data:
        found = _row(data, chat, row, add_generation_prompt)
    if found is None:
        raise InputError(f"no row {row} in {source_name(source)}")
    conversation = conversation_of(data.format, found)
    if add_generation_prompt:
        try:
            conversation = _prompt(conversation, row, data.format.root, final_turn)
        except _Refused as refused:
            raise InputError(f"row {row}: {refused.issue.message}") from None
    rendered = chat.render(conversation, add_generation_prompt=add_generation_prompt)
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


def _row(data: Dataset, chat: Any, row: int, prompt: bool = False) -> dict[str, Any] | None:
    """Row `row` of `data` when it passes validation with the template's rules; None when there is no such row."""
    scanner = Scanner(data.format, rules=chat.rules, duplicates=False, images=ImageChecks.of(data))
    for outcome in scanner.scan(data.records(precise=True)):
        if outcome.record.row != row:
            continue
        if _errors(outcome.issues, prompt):
            raise InputError(f"row {row} has errors; run `instructkit validate` to see them")
        return outcome.record.data  # type: ignore[return-value]
    return None

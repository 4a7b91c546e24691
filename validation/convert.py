"""Convert a dataset between formats through the canonical `Conversation`.

Rows are decoded precisely (integers of any size survive), normalised to messages and written
in the target format. A row that cannot be normalised, or that the target cannot hold, is not
written and is reported with its row, path and code: nothing is dropped silently.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

from validation.checks.messages import check_messages
from validation.content import LAYOUTS, LayoutError, relayout
from validation.errors import CannotConvert, InputError, RowProblems
from validation.models import Conversation, as_dicts
from validation.readers.files import Record
from validation.readers.formats import Format, get_format
from validation.outputs import write_rows
from validation.report import Fix, Issue, Report
from validation.readers.source import Dataset, Source, dataset_of, is_path
from validation.checks.rules import HasRules, TemplateRules
from validation.options import resolve_rules
from validation.validate import conversation_of, fixed_records


def convert(source: Source, out: str | os.PathLike[str], *, to: str, format: str | None = None,
            column: str | None = None, to_column: str | None = None, split: str = "train", fix: bool = False,
            template: TemplateRules | HasRules | None = None, image_layout: str | None = None) -> Report:
    """Write `source` to `out` in format `to`; the report lists every row not written.
    `image_layout`: rows with images are written in that layout (`hf`, `openai`, `placeholders`:
    validation.content.relayout); a row it cannot hold whole is reported, not written.

    Content problems (empty turns, duplicates) are carried through unchanged: `validate` is the
    place to find them. `report.valid` counts the rows written; when rows were read and none
    can be converted, `out` is not written at all (a file already there stays as it was); an
    empty source makes an empty file. `fix` applies `validation.checks.fix`
    first (`template`: the template whose rules decide the system fold and stripping).

    Example:
        >>> import tempfile, pathlib, json
        >>> out = pathlib.Path(tempfile.mkdtemp()) / "o.jsonl"
        >>> convert([{"question": "1+1?", "answer": "2"}], out, to="sharegpt").valid
        1
        >>> json.loads(out.read_text())["conversations"][1]
        {'from': 'gpt', 'value': '2'}
    """
    target = get_format(to, column=to_column)
    if image_layout is not None and image_layout not in LAYOUTS:
        raise InputError(f"image layout must be one of {', '.join(LAYOUTS)}, not {image_layout!r}")
    if target.uniform is not None and not is_path(source) and not isinstance(source, (list, tuple, Dataset)):
        source = list(source)  # it may be read twice
    with dataset_of(source, format=format, column=column, split=split) as data:
        try:
            return _convert(data, out, target, uniform=False, fix=fix, template=template, image_layout=image_layout)
        except _Relayout:  # a row needs the other layout after rows were written in the short one
            return _convert(data, out, target, uniform=True, fix=fix, template=template, image_layout=image_layout)


def _pair_rows(fmt: Format, target: Format, data: dict[str, Any], row: int, issues: list[Issue]
               ) -> list[dict[str, Any]] | None:
    """A preference row in a preference format (an unpaired target takes a pair as two rows);
    None, with the reason in `issues`, when it cannot be read or written there."""
    from validation.readers.pairs import WRITERS
    from validation.checks.pairs import read_pair

    if not fmt.preference:
        issues.append(Issue.make(row, fmt.root, "cannot-convert", f"a conversation holds one reply: {target.name} "
                                 "needs a preference (a chosen and a rejected reply, or a labelled one)"))
        return None
    value, problems = read_pair(fmt.name, data, row)
    if value is None:
        issues.extend(problems)
        return None
    if not target.preference:
        issues.append(Issue.make(row, fmt.root, "cannot-convert", f"a preference row holds two replies (or a "
                                 f"labelled one): {target.name} holds one conversation"))
        return None
    try:
        return WRITERS[target.name](value)
    except CannotConvert as exc:
        issues.append(Issue.make(row, fmt.root, "cannot-convert", str(exc)))
        return None


class _Relayout(Exception):
    """Start again, every row in the target's uniform layout."""


class _NothingConverted(Exception):
    """No row could be converted: the output is not written (a file already there stays as it was)."""


def _convert(data: Dataset, out: str | os.PathLike[str], target: Format, *, uniform: bool, fix: bool,
             template: TemplateRules | HasRules | None, image_layout: str | None = None) -> Report:
    fmt, records = data.format, data.records(precise=True)
    fixes: list[Fix] | None = [] if fix else None
    if fixes is not None:
        records = fixed_records(records, fmt, resolve_rules(template), fixes)
    issues: list[Issue] = []
    counts = {"rows": 0, "written": 0}

    def rows() -> Iterator[dict[str, Any]]:
        nonlocal uniform
        for record in records:
            counts["rows"] += 1
            converted, needs = convert_record(record, fmt, target, uniform=uniform, image_layout=image_layout,
                                              issues=issues)
            if converted is None:
                continue
            if needs:  # the target's uniform layout, for every row
                if counts["written"]:
                    raise _Relayout
                uniform = True
            counts["written"] += 1
            yield from converted
        if counts["rows"] and not counts["written"]:
            raise _NothingConverted  # before the output is committed: an empty file would read as a result

    try:
        write_rows(out, rows())
    except _NothingConverted:
        pass
    return Report(path=data.name, format=fmt.name, rows=counts["rows"], valid=counts["written"],
                  invalid=counts["rows"] - counts["written"], issues=[data.in_source(i) for i in issues], fixes=fixes)


def convert_record(record: Record, fmt: Format, target: Format, *, uniform: bool, image_layout: str | None,
                   issues: list[Issue]) -> tuple[list[dict[str, Any]] | None, bool]:
    """(the rows `record` becomes in `target`, or None with the reason put in `issues`; whether the row needs the
    target's uniform layout: written plainly it comes out as the uniform writer writes it, so every row must).
    `uniform`: written by the target's uniform writer."""
    data = record.data
    if isinstance(data, Issue):
        issues.append(data)
        return None, False
    if fmt.preference or target.preference:
        return _pair_rows(fmt, target, data, record.row, issues), False
    try:
        raw_messages, _ = fmt.split(data)
    except RowProblems as exc:
        issues.extend(Issue.make(record.row, p, code, m) for p, code, m in exc.problems)
        return None, False
    messages, problems = check_messages(raw_messages, record.row, lambda i, f: fmt.path(data, i, f), fmt.root, None,
                                        fmt.shape)
    if messages is None:
        issues.extend(problems)
        return None, False
    conversation = conversation_of(fmt, data)
    try:
        if image_layout is not None:
            conversation = _in_layout(conversation, image_layout)
        if uniform:
            return [target.uniform(conversation)], False  # type: ignore[misc]
        converted = target.from_conversation(conversation)
        return [converted], target.uniform is not None and converted == target.uniform(conversation)
    except (CannotConvert, LayoutError) as exc:
        issues.append(Issue.make(record.row, fmt.root, "cannot-convert", str(exc)))
        return None, False


def _in_layout(conversation: Conversation, layout: str) -> Conversation:
    """The conversation with its images written in `layout` (its `images` column moved with them)."""
    metadata = dict(conversation.metadata)
    column = metadata.pop("images", None)
    messages, images = relayout(as_dicts(conversation.messages), column if isinstance(column, list) else None,
                                layout)
    if images is not None:
        metadata["images"] = images
    elif column is not None and layout != "openai":
        metadata["images"] = column  # (a row without images keeps its column as it was)
    return Conversation.of(messages, **metadata)

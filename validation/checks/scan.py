"""Check rows chunk by chunk: raw lines proven clean in C, the rest in Python.

Raw JSONL lines of list-of-messages formats first meet `prover.Prover`, which clears clean
rows in one pass over their bytes and hashes them. Decoded rows meet `fast_clean`, which clears
well-formed rows with C-speed builtins; once per chunk, Polars scans their texts for control
characters and special tokens. Rows not cleared go through the precise `check_messages`.
Duplicates are resolved over the hashes of many chunks at once (`validation.checks.duplicates`), in
row order, which is also what lets a large JSONL file be split across processes. Findings go
into a `Findings`, which keeps counts exact and examples bounded.
"""

from __future__ import annotations

import gc
import hashlib
import io
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from validation.checks.messages import (check_messages, fast_clean, fast_clean_tools, message_dup_text, suspects,
                                        suspect_tokens, with_call_content)
from validation.checks.parts import part_roles, strings_cleared
from validation.errors import RowProblems
from validation.readers.formats import Format
from validation.readers.fields import RawShape
from validation.readers.decode import decode_row, loads_text
from validation.checks.duplicates import Duplicates
from validation.checks.images import ImageChecks
from validation.content import text_of
from validation.readers.files import BOM, Record
from validation.models import ROLES, Conversation, Unpaired
from validation.checks.pairs import FAST_PAIRS, check_pair, fast_pair, label_balance, shared_start_issue
from validation.report import Findings, Issue
from validation.summaries import NearDupSummary
from validation._rowscan import duplicate_key
from validation.checks.prover import PAIR_LAYOUTS, Prover, fingerprints
from validation.checks.required import required_issues
from validation.checks.rules import TemplateRules
from validation.checks.tools import ResponseSchema, canonical_json
from validation.tokens import backend_of, count_tokens
from validation.tokens import Tokenizer

if TYPE_CHECKING:  # (numpy: imported only by a command that asks for the corpus checks)
    from validation.checks.contamination import Benchmark
    from validation.checks.near_duplicates import NearDuplicates

CHUNK_ROWS = 8192
PAIR_SHAPE = RawShape("", "role", "content")  # a pair's messages (the list keys are prompt, chosen, rejected)


class RowOutcome:
    """One row's result: its record, its issues, and whether it has no error."""

    __slots__ = ("record", "issues", "valid")

    def __init__(self, record: Record, issues: list[Issue]) -> None:
        self.record = record
        self.issues = issues
        self.valid = not issues or not any(i.severity == "error" for i in issues)


class Scanner:
    """Checks rows; hands the row hashes to `duplicates`, which finds the repeats."""

    def __init__(self, fmt: Format, *, rules: TemplateRules | None = None, max_length: int | None = None,
                 tokenizer: Tokenizer | None = None, duplicates: bool = True,
                 response: ResponseSchema | None = None, near: NearDuplicates | None = None,
                 benchmark: Benchmark | None = None, required: dict[str, str] | None = None,
                 images: ImageChecks | None = None) -> None:
        """`near`: near-duplicate clusters are found (--near-dup); `benchmark`: rows that overlap it are
        errors (--decontaminate). Both read the text of every row, so no raw line is cleared unread.
        `required`: columns each row must hold, {name: JSON type} (--reward-columns). `images`: reads
        the images rows name (`ImageChecks.of(dataset)`); without it they are not read."""
        self.fmt = fmt
        self.images = images
        self.required = required
        self.response = response
        self.near = near
        self.near_summary: NearDupSummary | None = None  # (after `finish`)
        self.benchmark = benchmark
        self.rules = rules
        self.max_length = max_length
        self.tokenizer = backend_of(tokenizer)
        self.duplicates = Duplicates(fmt.root) if duplicates else None
        self.labels: Counter[bool] = Counter()  # of valid unpaired rows (`finish` judges their balance)
        # In a forked worker process Polars may deadlock (its thread pool does not survive a
        # fork of a process that used it), so the scanner there keeps to Python and C.
        self.forked = False
        # Raw lines can be cleared without decoding unless lengths or replies need the messages themselves;
        # a row that declares tools is left to Python, which checks its calls against them.
        pairs = fmt.name if fmt.name in PAIR_LAYOUTS else None  # pairs `fast_pair` would clear, cleared in C
        shape = PAIR_SHAPE if pairs else fmt.raw
        self.prover = None if shape is None or (max_length is not None and tokenizer is not None) or response \
            or (rules is not None and rules.flags_plain_rows) or near is not None or benchmark is not None \
            or not strings_cleared(rules) \
            or required \
            else Prover(shape, special_tokens=suspect_tokens(rules), roles=rules.roles if rules else ROLES,
                        other_keys=sorted(fmt.extra_keys | {"tools", "images"}), pairs=pairs,
                        parts=part_roles(rules))

    def scan(self, records: Iterable[Record], findings: Findings | None = None) -> Iterator[RowOutcome]:
        """Yield a `RowOutcome` per record, in input order; duplicates go into `findings` as they
        are resolved (the last of them at `finish`)."""
        chunk: list[Record] = []
        for record in records:
            chunk.append(record)
            if len(chunk) == CHUNK_ROWS:
                yield from self.check_chunk(chunk)
                chunk = []
                if findings is not None and self.duplicates is not None:
                    self.duplicates.settle(findings)
        if chunk:
            yield from self.check_chunk(chunk)

    def finish(self, findings: Findings) -> None:
        """Resolve the duplicates not resolved yet into `findings`, and judge what only the whole
        dataset shows (the balance of KTO's labels, over every part's rows)."""
        if self.duplicates is not None:
            self.duplicates.resolve(findings)
        if self.near is not None:
            self.near_summary = self.near.resolve(findings)
        findings.labels.update(self.labels)
        self.labels.clear()
        if self.fmt.name == "unpaired":
            findings.add(label_balance(findings.labels))

    def take_corpus(self) -> tuple[Any, set[int]] | None:
        """What this (worker) scanner gathered for the corpus checks: near-duplicate keys and the
        benchmark rows hit, handed over (`add_corpus` takes them in the resolving process)."""
        if self.near is None and self.benchmark is None:
            return None
        hits = set()
        if self.benchmark is not None:
            hits, self.benchmark.hit = self.benchmark.hit, set()
        return (self.near.take() if self.near is not None else None), hits

    def add_corpus(self, taken: tuple[Any, set[int]] | None, offset: int) -> None:
        """`take_corpus` of a worker whose rows count from `offset` + 1."""
        if taken is None:
            return
        keys, hits = taken
        if keys is not None and self.near is not None:
            self.near.extend([row + offset for row in keys[0]], keys[1])
        if self.benchmark is not None:
            self.benchmark.hit |= hits

    def _precise(self, record: Record, raw_messages: list[Any]) -> tuple[list[Issue], str | None, list[Any] | None]:
        if self.fmt.preference:
            issues, text = self._pair(record.data, record.row)  # type: ignore[arg-type]
            return issues, text, None
        messages, issues = check_messages(raw_messages, record.row, partial(self.fmt.path, record.data),
                                          self.fmt.root, self.rules, self.fmt.shape,
                                          fields=record.data, images=self.images)
        if messages is None or any(i.severity == "error" for i in issues):
            return issues, None, None
        if self.fmt.shape == "prompt" and self.rules is not None and self.rules.render_prompt is not None:
            try:  # a prompt is rendered to generate from: the template must take it with the generation prompt
                self.rules.render_prompt(_renderable(raw_messages, record.data))
            except ValueError as exc:
                return issues + [Issue.make(record.row, self.fmt.root, "template-refused",
                                            f"{self.rules.name} refuses this prompt with the generation prompt: "
                                            f"{exc}")], None, None
        return issues, message_dup_text(messages), raw_messages

    def _pair(self, data: dict[str, Any], row: int) -> tuple[list[Issue], str | None]:
        """`check_pair`'s issues and duplicate text; the label of a valid unpaired row is counted."""
        issues, text, value = check_pair(self.fmt.name, data, row, self.rules, self.images)
        if isinstance(value, Unpaired):
            self.labels[value.label] += 1
        return issues, text

    def _row(self, record: Record) -> tuple[list[Issue], str | None, list[Any] | None, bool]:
        """(issues, duplicate text, raw messages, whether `fast_clean` cleared it unscanned)."""
        data = record.data
        if isinstance(data, Issue):
            return [data], None, None, False
        if self.fmt.preference:  # a pair: cleared now and scanned with its chunk, or checked as a pair
            text = fast_pair(data, self.rules, self.fmt.name) if self.fmt.name in FAST_PAIRS and "images" not in data \
                else None
            if text is not None:
                return [], text, None, True
            issues, text = self._pair(data, record.row)
            return issues, text, None, False
        try:
            raw_messages = self.fmt.to_messages(data)
        except RowProblems as exc:
            return [Issue.make(record.row, p, code, m) for p, code, m in exc.problems], None, None, False
        if self.fmt.shape == "prompt" or "images" in data:  # (the fast paths clear conversations, without images)
            text, fast = None, False
        elif "tools" in data:  # cleared with its content scanned, or checked precisely
            text, fast = fast_clean_tools(raw_messages, data, self.rules), False
        else:  # cleared now and scanned with its chunk, or checked precisely
            text = fast_clean(raw_messages, self.rules)
            fast = text is not None
        issues, text, raw = self._precise(record, raw_messages) if text is None else ([], text, raw_messages)
        if self.response is not None:  # checked even when other checks failed: every problem at once
            replies = [Issue.make(record.row, where, code, message) for where, code, message in
                       self.response.issues(raw_messages, partial(self.fmt.path, data))]
            if replies:
                return issues + replies, None, None, False
        return issues, text, raw, fast

    def check_block(self, data: bytes, before: int, first: bool = False) -> tuple[int, int, list[Issue], list[int]]:
        """(lines, records, issues, rows with errors) of a block of whole JSONL lines, the first of them
        row `before` + 1; blank lines are not records, and a BOM opening the file (`first`) is skipped.
        The C prover splits and reads the block itself; what it does not clear goes the usual way."""
        with paused_gc():
            if self.prover is None:
                lines = io.BytesIO(data).readlines()
                if first and lines and lines[0].startswith(BOM):
                    lines[0] = lines[0][len(BOM):]
                chunk = [(before + n, line) for n, line in enumerate(lines, start=1) if not line.isspace()]
                return (len(lines), len(chunk), *self._check_lines(chunk))
            lines, records, *proven = self.prover.prove_block(data, before, first)
            return (lines, records, *self._settle(*proven))  # type: ignore[arg-type]

    def check_lines(self, lines: list[tuple[int, bytes]]) -> tuple[list[Issue], list[int]]:
        """(issues, rows with errors) of raw JSONL lines given as (row, bytes)."""
        with paused_gc():
            return self._check_lines(lines)

    def _check_lines(self, lines: list[tuple[int, bytes]]) -> tuple[list[Issue], list[int]]:
        proven = self.prover.prove([line for _, line in lines]) if self.prover else [None] * len(lines)
        cleared, exact, folded, chars, shared, rest = [], [], [], [], [], []
        for (row, line), result in zip(lines, proven):
            if result is None:
                rest.append((row, line))
                continue
            cleared.append(row)
            exact.append(result[0])
            folded.append(result[1])
            chars.append(result[2])
            if len(result) > 3 and result[3] is not None:
                shared.append((row, result[3]))
        return self._settle(cleared, exact, folded, chars, shared, rest)

    def _settle(self, cleared: Sequence[int], exact: Sequence[int], folded: Sequence[int], chars: Sequence[int],
                shared: list[tuple[int, str]], rest: list[tuple[int, bytes]]) -> tuple[list[Issue], list[int]]:
        """(issues, rows with errors) of lines the prover read: those it cleared (their rows, hashes,
        characters, and the start the replies of a transcript pair share), and the `rest`, checked here."""
        issues = [shared_start_issue(row, text) for row, text in shared]  # replies that begin alike
        if self.max_length is not None and not self.fmt.preference:
            issues += [self._too_long(row, n, "characters") for row, n in zip(cleared, chars) if n > self.max_length]
        if cleared and self.duplicates is not None:
            self.duplicates.add(cleared, exact, folded)
        invalid = []
        records = [Record(row, decode_row(line, row), line) for row, line in rest]
        for outcome in self._check_chunk(records) if records else []:
            issues += outcome.issues
            if not outcome.valid:
                invalid.append(outcome.record.row)
        return issues, invalid

    def _too_long(self, row: int, length: int, unit: str) -> Issue:
        return Issue.make(row, self.fmt.root, "too-long", f"{length} {unit} > max length {self.max_length}")

    def check_chunk(self, chunk: list[Record]) -> list[RowOutcome]:
        """Outcomes of one chunk; hands the chunk's hashes to `duplicates`."""
        with paused_gc():
            return self._check_chunk(chunk)

    def _check_chunk(self, chunk: list[Record]) -> list[RowOutcome]:
        checked = [self._row(record) for record in chunk]
        rows = [outcome[:3] for outcome in checked]
        # rows cleared by fast_clean have had no content scan yet: one scan of all their texts;
        # a suspect one is checked precisely (the precise path scanned the others itself)
        fast = [i for i, outcome in enumerate(checked) if outcome[3]]
        for k, suspect in zip(fast, suspects([rows[i][1] for i in fast], self.rules,  # type: ignore[misc]
                                             polars=not self.forked)):
            if suspect:
                rows[k] = self._precise(chunk[k], rows[k][2])  # type: ignore[arg-type]
        kept = [k for k, (_, text, _) in enumerate(rows) if text is not None]
        extra: dict[int, list[Issue]] = {}
        for k, record in enumerate(chunk) if self.required else ():
            extra[k] = [Issue.make(record.row, where, code, message)
                        for where, code, message in required_issues(record.data, self.required)]
        for k, record in enumerate(chunk):  # (the C prover clears no row whose keys repeat)
            if record.raw is not None and isinstance(record.data, dict) and (key := duplicate_key(record.raw)):
                extra.setdefault(k, []).append(Issue.make(
                    record.row, "", "duplicate-key", f"key {key.decode(errors='replace')!r} is written twice in one "
                    "object: JSON readers keep the last value, silently"))
        if self.required:  # a row missing a reward column has an error: no duplicate is counted against it
            kept = [k for k in kept if not any(i.severity == "error" for i in extra.get(k, ()))]
        if kept and self.duplicates is not None:
            self.duplicates.add([chunk[k].row for k in kept],
                                *fingerprints([_with_tools(rows[k][1], chunk[k].data) for k in kept]))
        if kept and self.benchmark is not None:  # an overlapping row is an error: no cluster keeps it
            overlaps = self.benchmark.check([chunk[k].row for k in kept], [rows[k][1] for k in kept], self.fmt.root)
            for j, issue in overlaps.items():
                extra.setdefault(kept[j], []).append(issue)
            kept = [k for j, k in enumerate(kept) if j not in overlaps]
        if kept and self.near is not None:
            self.near.add([chunk[k].row for k in kept], [rows[k][1] for k in kept])  # type: ignore[misc]
        if kept and self.max_length is not None and not self.fmt.preference:
            self._lengths(chunk, [(k, rows[k][2]) for k in kept], extra)
        return [RowOutcome(record, issues + extra.get(i, [])) for i, (record, (issues, _, _)) in
                enumerate(zip(chunk, rows))]

    def _lengths(self, chunk: list[Record], kept: list[tuple[int, Any]], extra: dict[int, list[Issue]]) -> None:
        if self.tokenizer is None:
            lengths = [sum(len(text_of(m.get("content"))) for m in msgs) for _, msgs in kept]
            unit = "characters"
        else:
            render = self.rules.render if self.rules is not None and self.rules.render else _plain_text
            lengths = count_tokens([render(_renderable(msgs, chunk[i].data)) for i, msgs in kept], self.tokenizer)
            unit = "tokens"
        for (i, _), length in zip(kept, lengths):
            if length > (self.max_length or 0):
                extra.setdefault(i, []).append(self._too_long(chunk[i].row, length, unit))


@contextmanager
def paused_gc() -> Iterator[None]:
    """Decoded rows hold no reference cycles, so reference counting frees them; the cyclic collector,
    which the many small dicts of a chunk set off again and again (a fifth of the time of a chunk of
    tool-calling rows), waits until the chunk is done."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _renderable(messages: list[Any], row: Any) -> Any:
    """What a template renders of a valid row: its messages (a call's null content as ""), as a
    `Conversation` with the row's tools when it declares some, so that they count too."""
    messages = [with_call_content(m) for m in messages]
    tools = row.get("tools") if isinstance(row, dict) else None
    return Conversation.of(messages, tools=tools) if tools else messages


def _with_tools(text: str, row: Any) -> str:
    """A row's duplicate text with the tools it declares and the images of its `images` column: the
    same messages with other tools render another prompt, with other images ask about other
    pictures, so they are not duplicates. (U+001C and U+001B cannot occur in a valid row's content.)"""
    images = row.get("images") if isinstance(row, dict) else None
    if images:
        text += "\x1b" + _images_key(images)
    tools = row.get("tools") if isinstance(row, dict) else None
    if not tools:
        return text
    try:  # the canonical JSON `declared_tools` keys declarations by (~1 us a row)
        return text + "\x1c" + canonical_json(loads_text(tools) if isinstance(tools, str) else tools)
    except (ValueError, TypeError):  # text that is not JSON, or objects of a script's own
        return text + "\x1c" + repr(tools)


def _images_key(images: Any) -> str:
    """What duplicates compare of an `images` column: each path or URL, or the digest of the bytes an
    entry holds (a Parquet `Image` column), so that no image's bytes are copied into the text."""
    if not isinstance(images, list):
        return repr(images)
    keys = []
    for value in images:
        data = value.get("bytes") if isinstance(value, dict) else None
        keys.append(value if isinstance(value, str) else hashlib.blake2b(data, digest_size=16).hexdigest()
                    if isinstance(data, (bytes, bytearray)) else repr(value))
    return "\x1b".join(keys)


def _plain_text(messages: Any) -> str:
    if isinstance(messages, Conversation):
        return "\n".join(text_of(m.content) for m in messages.messages)
    return "\n".join(text_of(m.get("content")) for m in messages)



"""`format: text` trained as a language model, as TRL's SFTTrainer trains a text field (the course
trains on the-stack-smol's `content` this way): every token of the text, no chat template, EOS
appended where the text does not end with it, the start kept when a row is over `max_length`.
`text_as: chat` (the config) trains the text as an assistant turn under the template instead.
"""

from __future__ import annotations

from typing import Any

from training.config import ConfigError, TrainConfig
from training.errors import MaskMismatch
from validation.report import Report


def is_language_model(config: TrainConfig, data: Any) -> bool:
    """Whether the rows of `data` train as a language model: a text dataset, unless `text_as: chat`."""
    return data.format.name == "text" and config.text_as == "lm"


def text_rows(data: Any, tokenizer: Any, config: TrainConfig, rules: Any = None) -> tuple[list[Any], Report]:
    """(rows to train on, the audit's report) of a text dataset: each valid row's tokens with EOS,
    all of them trained; rows with errors (checked as `validate` checks them, with the template's
    `rules`: no special token forged from content) are left out. Rows over `max_length`: cut to
    it (`truncate`), or left out (`drop`), or the run stops (`raise`)."""
    from templating.supervision.conversations import RowAudit
    from validation.checks.images import ImageChecks
    from validation.checks.scan import Scanner
    from validation.statistics.supervision import summarise
    from validation.models import Message

    column, eos = data.format.column, tokenizer.eos_token_id
    rows, read = [], 0
    images = ImageChecks.of(data)
    for outcome in Scanner(data.format, rules=rules, duplicates=False, images=images).scan(data.records(precise=True)):
        read += 1
        if not outcome.valid:
            continue
        record = outcome.record
        text = record.data[column]
        ids = tokenizer(text, add_special_tokens=True)["input_ids"]
        if eos is not None and (not ids or ids[-1] != eos):
            ids = [*ids, eos]  # as TRL appends eos_token to a text field
        long = len(ids) > config.max_length and not config.packing
        if long:
            if config.over_length == "raise":
                raise ConfigError(f"{data.name}: row {record.row} is {len(ids)} tokens, over max_length "
                                  f"{config.max_length} (over_length: raise)")
        rows.append(RowAudit(ids, [1] * len(ids), [Message(role="assistant", content=text)],
                             dropped=long and config.over_length == "drop"))
    report = Report(path=data.name, format="text", rows=read, valid=len(rows), invalid=read - len(rows),
                    max_length=config.max_length, length_unit="tokens")
    report.summary = summarise(rows)
    return [r for r in rows if not r.dropped], report


def text_rows_of(path: str, split: str, column: str, tokenizer: Any, config: TrainConfig) -> list[Any]:
    """The eval file's rows (its text in `column`, as the training data's), read as the training rows
    are; rows with errors are left out."""
    from validation.readers.source import dataset_of

    with dataset_of(path, split=split, format="text", column=column, columns=config.columns) as data:
        return text_rows(data, tokenizer, config)[0]


def check_text_against_trl(rows: list[Any], tokenizer: Any, prepared: Any, max_length: int | None,
                           sample: int = 8) -> int:
    """Our ids against TRL's language-model preparation of the same texts (text + eos_token,
    tokenized); returns rows checked. MaskMismatch when they differ."""
    cut = slice(None, max_length)
    checked = 0
    for row, prepared_row in zip(rows[:sample], prepared):
        text = row.messages[0].content
        eos = tokenizer.eos_token
        theirs = tokenizer(text if text.endswith(eos) else text + eos)["input_ids"][cut]
        if theirs != prepared_row["input_ids"] or set(prepared_row.get("assistant_masks", [1])) != {1}:
            raise MaskMismatch(f"text row {checked + 1}: our tokens differ from TRL's language-model tokenization")
        checked += 1
    return checked

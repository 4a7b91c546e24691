"""Turn audited conversations into what SFTTrainer trains on: the audit's token ids and
assistant masks (so what is audited is what is trained), checked against TRL's own masking on a
sample."""

from __future__ import annotations

import copy
from collections.abc import Sequence
from typing import Any

from templating import ChatTemplate
from templating.spec import plain_variables, transformers_clock
from templating.supervision.conversations import RowAudit
from training.errors import MaskMismatch


def tokenized_dataset(rows: Sequence[RowAudit], *, assistant_only_loss: bool, max_length: int | None = None) -> Any:
    """A `datasets.Dataset` with `input_ids` (and `assistant_masks` for assistant-only loss),
    truncated to `max_length` keeping the start (TRL's default `truncation_mode`)."""
    import datasets

    cut = slice(None, max_length)
    columns: dict[str, list[Any]] = {"input_ids": [r.ids[cut] for r in rows]}
    if assistant_only_loss:
        columns["assistant_masks"] = [r.mask[cut] for r in rows]
    return datasets.Dataset.from_dict(columns)


def check_against_trl(rows: Sequence[RowAudit], tokenizer: Any, template: ChatTemplate, prepared: Any,
                      sample: int = 8, max_length: int | None = None) -> int:
    """Compare our ids and masks with TRL's tokenization of the same rows; returns rows checked. A
    template without `{% generation %}` marks gives TRL no mask: its spans are derived
    (templating/spans.py), and the ids alone are compared."""
    with_template = copy.copy(tokenizer)
    with_template.chat_template = template.jinja
    checked = 0
    for row, prepared_row in zip(rows[:sample], prepared):
        with transformers_clock(template.spec):  # (a template that prints the date: the day ours prints)
            trl = with_template.apply_chat_template([m.to_dict() for m in row.messages], tools=row.tools,
                                                    tokenize=True, return_dict=True, return_assistant_tokens_mask=True,
                                                    **plain_variables(template.spec))
        cut = slice(None, max_length)
        ours, theirs = prepared_row.get("assistant_masks"), trl["assistant_masks"][cut]
        # turns left out on purpose (train: false, train_on: last) are in TRL's mask, not ours
        same_mask = ours is None or not template.marked or (ours == theirs if not row.untrained else
                                     all(t or not o for t, o in zip(theirs, ours)) and len(ours) == len(theirs))
        if trl["input_ids"][cut] != prepared_row["input_ids"] or not same_mask:
            raise MaskMismatch(f"conversation {checked + 1}: our tokens or assistant mask differ from TRL's "
                               f"tokenization with template {template.name}")
        checked += 1
    return checked

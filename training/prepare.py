"""Turn validated conversations into what SFTTrainer trains on: token ids and assistant masks
from the template registry, checked against TRL's own masking on a sample."""

from __future__ import annotations

import copy
from typing import Any

from templating import ChatTemplate
from templating.tokens import render_tokens_batch
from validation import Conversation


class MaskMismatch(RuntimeError):
    """Our masks and TRL's disagree on a sample: training would not learn what we report."""


def tokenized_dataset(conversations: list[Conversation], tokenizer: Any, template: ChatTemplate, *,
                      assistant_only_loss: bool, max_length: int | None = None) -> Any:
    """A `datasets.Dataset` with `input_ids` (and `assistant_masks` for assistant-only loss),
    truncated to `max_length` keeping the start (TRL's default `truncation_mode`)."""
    import datasets

    tokens = render_tokens_batch([c.messages for c in conversations], tokenizer, template)
    cut = slice(None, max_length)
    columns: dict[str, list[Any]] = {"input_ids": [t.input_ids[cut] for t in tokens]}
    if assistant_only_loss:
        columns["assistant_masks"] = [t.assistant_mask[cut] for t in tokens]
    return datasets.Dataset.from_dict(columns)


def check_against_trl(conversations: list[Conversation], tokenizer: Any, template: ChatTemplate,
                      prepared: Any, sample: int = 8, max_length: int | None = None) -> int:
    """Compare our ids and masks with TRL's tokenization of the same rows; returns rows checked."""
    with_template = copy.copy(tokenizer)
    with_template.chat_template = template.jinja
    checked = 0
    for conversation, row in zip(conversations[:sample], prepared):
        trl = with_template.apply_chat_template([m.to_dict() for m in conversation.messages], tokenize=True,
                                                return_dict=True, return_assistant_tokens_mask=True)
        cut = slice(None, max_length)
        if trl["input_ids"][cut] != row["input_ids"] or ("assistant_masks" in row and
                                                         trl["assistant_masks"][cut] != row["assistant_masks"]):
            raise MaskMismatch(f"conversation {checked + 1}: our tokens or assistant mask differ from TRL's "
                               f"tokenization with template {template.name}")
        checked += 1
    return checked

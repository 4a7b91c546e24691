"""Tokenized renders: `input_ids` plus the assistant mask of the registry's character spans.

The template's text is tokenized with `add_special_tokens=False`: the template already holds
the BOS it needs, so a tokenizer that would add one itself cannot double it. A token is in the
mask when it covers a character of a span: the first token from the one holding the span's
first character to the one holding its last, as transformers' `return_assistant_tokens_mask`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from templating.spec import Rendered
from validation.tokens import backend_of


@dataclass(frozen=True)
class Tokenized:
    """Token ids of a rendered conversation and, per token, 1 when it is trained on."""

    input_ids: list[int]
    assistant_mask: list[int]


def fast_backend(tokenizer: Any) -> Any:
    """The Rust `tokenizers.Tokenizer` of a transformers fast tokenizer (or the tokenizer itself);
    TypeError for a slow one, which has no offsets to build the mask from."""
    backend = backend_of(tokenizer)
    if not (hasattr(backend, "encode_batch") and hasattr(backend, "token_to_id")):
        raise TypeError(f"{type(tokenizer).__name__} is not a fast tokenizer: offsets are needed for the mask")
    return backend


def token_at(encoding: Any, char: int, step: int, limit: int) -> int | None:
    """The token holding `char`, or the nearest one in direction `step` (spaces some tokenizers skip)."""
    while 0 <= char < limit:
        token = encoding.char_to_token(char)
        if token is not None:
            return token
        char += step
    return None


def token_range(encoding: Any, start: int, end: int, text_length: int) -> tuple[int, int] | None:
    """(first, last) token of the character span [start, end), or None when no token covers it."""
    first = encoding.char_to_token(start)
    if first is None:
        first = token_at(encoding, start, 1, end)
    last = encoding.char_to_token(end - 1)
    if last is None:
        last = token_at(encoding, end - 1, -1, text_length)
    return (first, last) if first is not None and last is not None and last >= first else None


def mask_of(encoding: Any, rendered: Rendered) -> list[int]:
    mask = [0] * len(encoding)  # not len(encoding.ids): that builds the id list a second time
    for start, end in rendered.assistant_spans:
        span = token_range(encoding, start, end, len(rendered.text))
        if span is not None:
            first, last = span
            mask[first:last + 1] = _ONES[:last + 1 - first] if last + 1 - first <= len(_ONES) else \
                [1] * (last + 1 - first)
    return mask


_ONES = [1] * 4096


def tokenize_rendered(rendered: Sequence[Rendered], tokenizer: Any) -> list[Tokenized]:
    """Token ids and masks of already rendered conversations, in one batched tokenizer call."""
    encodings = fast_backend(tokenizer).encode_batch([r.text for r in rendered], add_special_tokens=False)
    return [Tokenized(e.ids, mask_of(e, r)) for e, r in zip(encodings, rendered)]

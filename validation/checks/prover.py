"""Duplicate hashes and the raw-line fast path, over the C extension `validation._rowscan`.

`Prover.prove` clears raw JSONL lines that are certainly clean without decoding them into
Python objects; every line it does not clear goes the usual way (orjson, `fast_clean`, the
precise checks). Every path hashes a conversation the same way (`hash_conversation`), so a row
cleared here and its copy checked precisely are still found to be duplicates, and `stats`
counts the duplicates `validate` reports.

The near-duplicate fold of one message is `fold` (defined in `validation.checks.fold`), done in C for
all of Unicode: no text goes back to Python to be folded.
"""

from __future__ import annotations

from array import array
from collections.abc import Collection, Sequence
from typing import Any

from validation import _rowscan
from validation.checks.messages import ROLE_CODE, SEP
from validation.readers.fields import RawShape

ROLE_OF_CODE = {"s": "system", "u": "user", "a": "assistant", "t": "tool"}  # `checks.dup_text` letters
PAIR_LAYOUTS = {"preference": 0, "preference-implicit": 1, "hh-text": 2}  # `prove_pairs`' layouts, by format


def fold(text: str) -> str:
    """The near-duplicate form of one message: whitespace runs to one space, trimmed, each
    character lower-cased (`validation.checks.fold.reference_fold`, in C).

    Example:
        >>> fold("  Ich  GRÜẞE\u3000ΣΑΣ ")  # a final capital sigma folds to σ like any other
        'ich grüße σασ'
    """
    return _rowscan.fold(text)


def hash_conversation(roles: list[str], contents: list[str]) -> tuple[int, int]:
    """(exact, folded) 64-bit hashes of one conversation.

    Example:
        >>> a = hash_conversation(["user", "assistant"], ["Hi  there", "Hello"])
        >>> b = hash_conversation(["user", "assistant"], ["hi there", "hello"])
        >>> a[0] == b[0], a[1] == b[1]
        (False, True)
    """
    return _rowscan.hash_conversation(roles, contents)


def fingerprints(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """(exact, folded) hashes of duplicate texts (`checks.dup_text` of rows with no error, whose
    contents therefore hold no SEP)."""
    exact, folded = [], []
    for text in texts:
        sig, *contents = text.split(SEP)
        plain, fast = hash_conversation([ROLE_OF_CODE[c] for c in sig], contents)
        exact.append(plain)
        folded.append(fast)
    return exact, folded


class Prover:
    """Clears raw lines of one format under one template's rules."""

    def __init__(self, shape: RawShape, *, special_tokens: Sequence[str] = (),
                 roles: Collection[str] = tuple(ROLE_CODE), other_keys: Sequence[str] = (),
                 pairs: str | None = None, parts: Collection[str] = ()) -> None:
        """`roles`: those the template takes (a row with another is left to Python);
        `other_keys`: top-level fields that also feed the messages (a row holding one is left to Python);
        `pairs`: the rows are preference pairs of this format (`preference`, `preference-implicit`, `hh-text`),
        their messages under the shape's role and content keys: cleared when `preference.check_pair` finds
        them clean; `parts`: the roles whose content may be text parts (validation/content.py), cleared as
        the text they join to (not in pairs)."""
        self._layout = None if pairs is None else PAIR_LAYOUTS[pairs]
        # Only the roles `fast_clean` clears, and of those only the ones the template takes.
        table = {name: role for name, role in (shape.roles or {r: r for r in ROLE_CODE}).items()
                 if role in ROLE_CODE and role in roles}
        self._args = (shape.list_key.encode(), shape.role_key.encode(), shape.content_key.encode(),
                      {name.encode(): role.encode() for name, role in table.items()},
                      tuple(t.encode() for t in special_tokens if t), tuple(k.encode() for k in other_keys))
        self._parts = b"" if pairs is not None else "".join(sorted({r[0] for r in parts if r in ROLE_CODE})).encode()

    def prove(self, lines: list[bytes]) -> list[tuple[Any, ...] | None]:
        """Per line: None when not certainly clean, else (exact hash, folded hash, characters), and for
        pairs the text both replies begin with (transcripts; else None): reply-shares-start warns of it.

        Example:
            >>> prover = Prover(RawShape("messages", "role", "content"))
            >>> ok, bad = prover.prove([b'{"messages": [{"role": "user", "content": "Hi"},'
            ...                         b' {"role": "assistant", "content": "Hello"}]}', b'{"messages": []}'])
            >>> ok[2], bad, ok[:2] == hash_conversation(["user", "assistant"], ["Hi", "Hello"])
            (7, None, True)
        """
        if self._layout is not None:
            return _rowscan.prove_pairs(lines, self._layout, *self._args[1:])
        return _rowscan.prove(lines, *self._args, self._parts)

    def prove_block(self, data: bytes, before: int, first: bool = False) -> tuple[Any, ...]:
        r"""`prove` over the lines of a block of JSONL, split in C: (lines, records, cleared rows,
        their exact hashes, folded hashes and characters (arrays), [(row, text both replies begin
        with)], [(row, line) not cleared]). Rows count from `before` + 1 over every line; blank
        lines are not records; `first`: a BOM opening the block is skipped.

        Example:
            >>> prover = Prover(RawShape("messages", "role", "content"))
            >>> block = (b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", '
            ...          b'"content": "Hello"}]}\n\n{"messages": []}\n')
            >>> lines, records, rows, exact, folded, chars, shared, rest = prover.prove_block(block, 10)
            >>> lines, records, list(rows), list(chars), rest
            (3, 2, [11], [7], [(13, b'{"messages": []}\n')])
        """
        lines, records, rows, exact, folded, chars, shared, rest = _rowscan.prove_block(
            data, before, first, -1 if self._layout is None else self._layout, *self._args, self._parts)
        return (lines, records, array("q", rows), array("Q", exact), array("Q", folded), array("q", chars),
                shared, rest)

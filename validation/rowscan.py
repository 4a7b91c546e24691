"""Duplicate fingerprints and the raw-line fast path, over the C extension `validation._rowscan`.

`prove` clears raw JSONL lines that are certainly clean without decoding them into Python
objects; every line it does not clear goes the usual way (orjson, `fast_clean`, the precise
checks). `fingerprints` gives every other row the same two hashes, so a row cleared here and
its copy checked precisely are still found to be duplicates.

The fold for near-duplicates is, per message: `" ".join(text.split()).lower()`. The C code folds
ASCII text itself; text with other characters is folded here, with Python's Unicode rules.
"""

from __future__ import annotations

from collections.abc import Sequence

from validation._rowscan import fingerprint, text_hash
from validation._rowscan import prove as _prove
from validation.checks import SEP
from validation.formats import RawShape


def fold(text: str) -> str:
    """The near-duplicate form of one message: whitespace runs to one space, trimmed, lower-case."""
    return " ".join(text.split()).lower()


def folded_hash(text: str) -> int:
    """The folded hash of a duplicate text (`checks.dup_text`): every SEP-separated part folded."""
    return text_hash(SEP.join(map(fold, text.split(SEP))).encode())


def fingerprints(texts: Sequence[str]) -> tuple[list[int], list[int]]:
    """(exact, folded) 64-bit hashes of duplicate texts, equal to those `prove` gives.

    Example:
        >>> exact, folded = fingerprints(["ua\\x1fHi  there\\x1fHello", "ua\\x1fhi there\\x1fhello"])
        >>> exact[0] == exact[1], folded[0] == folded[1]
        (False, True)
    """
    exact, folded = [], []
    for text in texts:
        plain, fast = fingerprint(text.encode())
        exact.append(plain)
        folded.append(fast if fast is not None else folded_hash(text))
    return exact, folded


class Prover:
    """Clears raw lines of one format under one template's rules."""

    def __init__(self, shape: RawShape, *, special_tokens: Sequence[str] = (), allow_system: bool = True,
                 other_keys: Sequence[str] = ()) -> None:
        """`other_keys`: top-level fields that also feed the messages; a row holding one is left to Python."""
        self._args = (shape.list_key.encode(), shape.role_key.encode(), shape.content_key.encode(),
                      {name.encode(): code.encode() for name, code in shape.roles.items()},
                      tuple(t.encode() for t in special_tokens if t), tuple(k.encode() for k in other_keys),
                      allow_system)

    def prove(self, lines: list[bytes]) -> list[tuple[int, int, int] | None]:
        """Per line: None when not certainly clean, else (exact hash, folded hash, characters).

        Example:
            >>> prover = Prover(RawShape("messages", "role", "content", {"user": "u", "assistant": "a"}))
            >>> ok, bad = prover.prove([b'{"messages": [{"role": "user", "content": "Hi"},'
            ...                         b' {"role": "assistant", "content": "Hello"}]}', b'{"messages": []}'])
            >>> ok[2], bad
            (7, None)
        """
        return [r if r is None or type(r[1]) is int else (r[0], folded_hash(r[1]), r[2])
                for r in _prove(lines, *self._args)]

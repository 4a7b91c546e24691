"""Column mapping: rows whose fields are named otherwise (`prompt/response`, `input/output`,
`question/response`) read as one of the formats, by renaming fields as each row is read.

`--map response=completion,input=prompt` (a `columns:` mapping in a training config) renames the
source's `response` to `completion` and `input` to `prompt`; detection, checks, statistics,
rendering and training then see a `prompt-completion` row. Issues name the source's own fields
(`response`, not `completion`), and `validate --write-clean` writes rows as the source has them.

Example:
    >>> columns = Columns.parse("response=completion,input=prompt")
    >>> columns.rename({"input": "hi", "response": "hello", "id": 7})
    {'prompt': 'hi', 'completion': 'hello', 'id': 7}
    >>> columns.source_path("completion"), columns.source_path("prompt[0].content")
    ('response', 'input[0].content')
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from validation.errors import InputError

# What people call the two halves of a single-turn example, and the format field each becomes.
PROMPT_NAMES = ("prompt", "input", "question", "query", "instruction", "user", "human", "request", "source")
REPLY_NAMES = ("completion", "response", "output", "answer", "reply", "assistant", "gpt", "target")
_HEAD = re.compile(r"^([^.\[#]+)(.*)$", re.S)


class Renamed(dict):  # type: ignore[type-arg]
    """A row with fields renamed, holding the row as the source has it (`original`)."""

    __slots__ = ("original",)

    def __init__(self, fields: dict[str, Any], original: dict[str, Any]) -> None:
        super().__init__(fields)
        self.original = original


@dataclass(frozen=True)
class Columns:
    """A mapping of source field names to format field names (`{"response": "completion"}`)."""

    mapping: tuple[tuple[str, str], ...]

    @classmethod
    def parse(cls, text: str | dict[str, str]) -> Columns:
        """`"a=b,c=d"` (the command line) or `{"a": "b"}` (a config, the library) as a mapping.

        Raises:
            InputError: a pair without `=`, an empty name, a source named twice, or two sources
                mapped to one field.
        """
        if isinstance(text, dict):
            pairs = [(str(k), str(v)) for k, v in text.items()]
        elif isinstance(text, str):
            pairs = []
            for item in (part.strip() for part in text.split(",")):
                source, sep, target = item.partition("=")
                if not sep:
                    raise InputError(f"column mapping {item!r}: write SOURCE=FIELD, e.g. --map response=completion")
                pairs.append((source.strip(), target.strip()))
        else:
            raise InputError(f"columns must be a mapping such as {{'response': 'completion'}}, not {text!r}")
        for source, target in pairs:
            if not source or not target:
                raise InputError(f"column mapping {source}={target}: both names are needed (SOURCE=FIELD)")
        for names, what in (([s for s, _ in pairs], "is mapped twice"), ([t for _, t in pairs], "is the target twice")):
            twice = sorted({n for n in names if names.count(n) > 1})
            if twice:
                raise InputError(f"column mapping: {twice[0]!r} {what}")
        return cls(tuple((s, t) for s, t in pairs if s != t))

    def __bool__(self) -> bool:
        return bool(self.mapping)

    def describe(self) -> str:
        """As the command line writes it: `response=completion,input=prompt`."""
        return ",".join(f"{s}={t}" for s, t in self.mapping)

    def rename(self, row: dict[str, Any]) -> dict[str, Any]:
        """`row` with the mapped fields renamed, in place of the originals (order kept).

        Raises:
            ValueError: (source field, message) when a renamed field would overwrite a field the
                row already has.
        """
        forward = dict(self.mapping)
        if not forward.keys() & row.keys():
            return Renamed(row, row)  # (nothing to rename; restored as it is)
        out: dict[str, Any] = {}
        for key, value in row.items():
            name = forward.get(key, key)
            if name in out or (name != key and name in row and name not in forward):
                raise ValueError(key, f"--map {key}={name}: the row already has a field {name!r}, which it would "
                                      "overwrite; drop one of the two, or map it elsewhere")
            out[name] = value
        return Renamed(out, row)

    def restore(self, row: dict[str, Any]) -> dict[str, Any]:
        """A renamed row as the source has it (what `validate --write-clean` writes): the row read,
        or for a row changed since (`--fix`), its fields under the source's names."""
        if isinstance(row, Renamed):
            return row.original
        back = {t: s for s, t in self.mapping}
        return {back.get(key, key): value for key, value in row.items()}

    def source_path(self, path: str) -> str:
        """A path into a renamed row as a path into the source row (`completion[0]` → `response[0]`)."""
        match = _HEAD.match(path)
        if match is None:
            return path
        back = {t: s for s, t in self.mapping}
        return back.get(match.group(1), match.group(1)) + match.group(2)


def suggest(fields: list[str]) -> str | None:
    """The `--map` that reads rows with these fields as a format, when one field names a prompt and
    another a reply (`input`/`output` → `--map input=prompt,output=completion`); None otherwise."""
    lowered = {f.lower(): f for f in fields}
    prompt = next((lowered[n] for n in PROMPT_NAMES if n in lowered), None)
    reply = next((lowered[n] for n in REPLY_NAMES if n in lowered and lowered[n] != prompt), None)
    if prompt is None or reply is None:
        return None
    if prompt.lower() == "question":
        fmt, targets = "qa", ("question", "answer")
    elif prompt.lower() == "instruction":
        fmt, targets = "alpaca", ("instruction", "output")
    else:
        fmt, targets = "prompt-completion", ("prompt", "completion")
    pairs = [f"{s}={t}" for s, t in zip((prompt, reply), targets) if s != t]
    return f"--map {','.join(pairs)}" + f" reads them as {fmt}" if pairs else None

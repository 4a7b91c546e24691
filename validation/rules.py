"""Template-aware rules for validation, behind a small interface the template registry fills.

`validation` imports neither of the other packages. A template package makes its templates
known here through the `instructkit.template_rules` entry point: a callable `lookup(name)`
returning `TemplateRules` or None, and `lookup.names()` listing what it knows. ChatML is built
in so the checks work (and are tested) on their own.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib.metadata import entry_points
from typing import Any

from validation.errors import UnknownName
from validation.models import ROLES

GROUP = "instructkit.template_rules"


@dataclass(frozen=True)
class TemplateRules:
    """What a chat template refuses: its special tokens inside content, roles, non-alternation.

    `render` (optional) gives the exact text the template produces, so `--max-length` can be
    measured in tokens of what the model will really see; `audit` (optional) gives each
    conversation's token ids, assistant mask and what training on it supervises (statistics count
    trainable tokens with it).
    """

    name: str
    special_tokens: tuple[str, ...]
    roles: frozenset[str] = frozenset(ROLES)
    alternating: bool = False
    trims_content: bool = False  # the template strips edge whitespace of content (what --fix mirrors)
    render: Callable[[Sequence[Any]], str] | None = field(default=None, compare=False)
    # (conversations, tokenizer, max_length, over_length) -> one audit per conversation with
    # `.ids`, `.mask`, `.findings` [(path, code, message)] and `.dropped` (templating/audit.py).
    audit: Callable[[Sequence[Any], Any, int | None, str], list[Any]] | None = field(default=None, compare=False)


CHATML = TemplateRules("chatml", ("<|im_start|>", "<|im_end|>"))


@cache
def _providers() -> tuple[Callable[[str], TemplateRules | None], ...]:
    return tuple(ep.load() for ep in entry_points(group=GROUP))


def get_rules(name: str) -> TemplateRules:
    """The rules of template `name`, from the registry when installed, else the built-in ChatML.

    Raises:
        KeyError: no provider knows `name`; the message lists the names that exist.
    """
    for lookup in _providers():
        rules = lookup(name)
        if rules is not None:
            return rules
    if name == CHATML.name:
        return CHATML
    known = sorted({CHATML.name, *(n for lookup in _providers() for n in getattr(lookup, "names", list)())})
    raise UnknownName(f"unknown template {name!r}; known templates: {', '.join(known)}")


def get_tokenizer(name_or_path: str) -> Any:
    """A tokenizer: a `tokenizer.json` or a folder holding one (read with `tokenizers`, no torch);
    any other name (a hub id, a GGUF file, the embedded SmolLM2) through the template provider."""
    from pathlib import Path

    path = Path(name_or_path)
    if path.is_file() and path.suffix == ".json" or (path / "tokenizer.json").is_file():
        from tokenizers import Tokenizer

        return Tokenizer.from_file(str(path if path.is_file() else path / "tokenizer.json"))
    if not path.exists() and (path.suffix == ".json" or path.is_absolute() or name_or_path.startswith(".")):
        raise UnknownName(f"{name_or_path}: no such file or folder")  # a path, not a hub id
    for lookup in _providers():
        load = getattr(lookup, "tokenizer", None)
        if load is not None:
            return load(name_or_path)
    raise UnknownName(f"{name_or_path}: not a tokenizer.json or a folder with one, and no provider loads tokenizers")

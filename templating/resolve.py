"""The one resolver of what a template is named by, wherever one is named (`validate`, `stats`,
`convert --fix`, `render`, `audit`, `templates check`, the library's `resolve_template`):

| named | the template |
|---|---|
| a registry name or alias (`smollm2`, `qwen2.5`) | the registry's, with its `{% generation %}` spans |
| a Jinja file (`my.jinja`, a model's `chat_template.jinja`) | the file's text; its special tokens and end-of-turn marker from the tokenizer beside it (the file's folder), from `tokenizer`, or from `end_of_turn`/`bos` |
| a `tokenizer_config.json` | its folder's tokenizer's `chat_template` |
| a model or tokenizer folder, a `.gguf` file, a hub id | the tokenizer's own `chat_template`: the registry's template when it renders the same (spans known), else its own text |

A template read from a file or a tokenizer trains what its `{% generation %}` marks say; without
marks the spans are derived by rendering prefixes (templating/spans.py), which a template that is
not prefix-preserving refuses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from templating.environment import TemplateError, compile_template
from templating.errors import ModelNotFound
from templating.registry import ChatTemplate, get_template, resolve, template_of_tokenizer
from templating.spec import TemplateSpec
from validation.errors import InputError, UnknownName
from validation.readers.files import is_hub_id

JINJA_SUFFIXES = (".jinja", ".j2", ".jinja2")
TOKENIZER_FILES = ("tokenizer_config.json", "tokenizer.json")


def resolve_template(target: str | ChatTemplate, *, tokenizer: Any = None, end_of_turn: str | None = None,
                     bos: str | None = None) -> ChatTemplate:
    """The template `target` names (see the module's table). `tokenizer`: a loaded tokenizer, or
    what `load_tokenizer` takes, for a Jinja file's special tokens.

    Raises:
        UnknownName: not a registry name, and no file, folder or model of that name.
        InputError: a Jinja file that does not compile, or whose end-of-turn marker is unknown.
        ModelNotFound: a model or hub id whose tokenizer cannot be loaded (offline: one line).
    """
    if isinstance(target, ChatTemplate):
        return target
    try:
        resolve(target)
    except UnknownName as unknown:
        if not _names_a_path(target):
            raise unknown from None
    else:
        return get_template(target)
    path = Path(target)
    if path.is_file() and path.name in TOKENIZER_FILES:
        path = path.parent  # its folder's tokenizer and chat template
    if path.is_file() and path.suffix.lower() != ".gguf":
        return template_file(path, tokenizer, end_of_turn, bos)
    from templating.embedded import load_tokenizer

    loaded = load_tokenizer(str(path) if path.exists() else target)
    try:
        return chosen_template(loaded, None, target)  # type: ignore[return-value]
    except (KeyError, TemplateError) as exc:
        raise InputError(f"{target}: {exc.args[0]}") from None


def _names_a_path(target: str) -> bool:
    """Whether `target` is meant as a file, folder or hub id rather than a registry name: it exists,
    has a template or model suffix, or is shaped `org/name`."""
    path = Path(target)
    if path.exists():
        return True
    if path.suffix.lower() in (*JINJA_SUFFIXES, ".gguf", ".json") or "/" in target or "\\" in target:
        if not is_hub_id(target):
            raise UnknownName(f"{target}: no such template file, folder or model")
        return True
    return False


def template_file(path: Path, tokenizer: Any = None, end_of_turn: str | None = None, bos: str | None = None, *,
                  ways: str = "give its tokenizer (--tokenizer), or put the file in its model's folder") -> ChatTemplate:
    """A Jinja file as a (not registered) template; its special tokens from `tokenizer` (loaded, or
    what `load_tokenizer` takes; else the tokenizer in the file's folder), `end_of_turn` and `bos`.
    `ways`: how the command's user gives the end-of-turn marker, for the error without one."""
    from templating.embedded import load_tokenizer

    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it as a Jinja template ({exc})") from None
    if tokenizer is None and any((path.parent / name).is_file() for name in TOKENIZER_FILES):
        tokenizer = str(path.parent)  # a model's chat_template.jinja: the tokenizer beside it
    if isinstance(tokenizer, str):
        try:
            tokenizer = load_tokenizer(tokenizer)
        except ModelNotFound as exc:
            raise InputError(f"{path}: its tokenizer: {exc}") from None
    eot = end_of_turn or getattr(tokenizer, "eos_token", None)
    if not eot:
        raise InputError(f"{path}: a Jinja file needs its tokenizer for its special tokens and end-of-turn marker: "
                         f"{ways}")
    try:
        compile_template(text)
    except TemplateError as exc:
        raise InputError(f"{path}: not a usable Jinja template ({exc})") from None
    specials = tuple(t for t in getattr(tokenizer, "all_special_tokens", ()) if t) or (eot,)
    first = bos if bos is not None else getattr(tokenizer, "bos_token", None) or ""
    return ChatTemplate(TemplateSpec(name=str(path), special_tokens=specials, end_of_turn=eot, generation_prompt="",
                                     bos_token=first, eos_token=eot, official=text, training=text,
                                     source=f"the file {path}"))


def chosen_template(tokenizer: Any, name: str | None, source: str) -> ChatTemplate:
    """The template `name` names (`resolve_template`, a Jinja file's special tokens from
    `tokenizer`); without a name the tokenizer's own template — the registry's equal when it
    renders like one of ours (so spans exist), the tokenizer's text itself otherwise."""
    from templating.parse import compare_template, detect_template

    if name is not None:
        return resolve_template(name, tokenizer=tokenizer)
    known = detect_template(tokenizer)
    same = known is not None and compare_template(tokenizer, known) is None
    return get_template(known) if same else template_of_tokenizer(tokenizer, f"{source} (own template)")

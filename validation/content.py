"""Content parts: a message's content written as a list of text and image parts.

The layouts read (none is rewritten on its own):

- OpenAI: `{"type": "text", "text": ...}`; `{"type": "image_url", "image_url": {"url": ...}}`
  (a path, a URL or a data URL);
- Hugging Face / TRL: `{"type": "text", "text": ...}`; `{"type": "image"}`, the next of the row's
  `images`, or with `image`, `url` or `path`;
- LLaMA-Factory, ShareGPT4V: the content string, an `<image>` placeholder in it for each of the
  row's `images`, in order.

`text_of` is the text a content holds (text parts joined as chat templates join them: nothing
between them); `image_refs` the images of a row, each with where it is written.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal, NamedTuple

from pydantic import BaseModel, ConfigDict, Field, StrictStr

PLACEHOLDER = "<image>"  # LLaMA-Factory's and ShareGPT4V's image token in the text
IMAGE_FIELDS = ("image", "url", "path")  # where a Hugging Face image part names its image


class _Kept(BaseModel):
    """A frozen, strict value whose unknown keys are kept (a part's `detail`, `cache_control`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)


class TextPart(_Kept):
    """A text part."""

    type: Literal["text"]
    text: StrictStr


class ImageUrl(_Kept):
    """OpenAI's `image_url` object: the URL (or a data URL) and what else it says (`detail`)."""

    url: StrictStr


class ImageUrlPart(_Kept):
    """An OpenAI image part."""

    type: Literal["image_url"]
    image_url: ImageUrl


class ImagePart(_Kept):
    """A Hugging Face image part: the image it names, or none (the next of the row's `images`)."""

    type: Literal["image"]
    image: StrictStr | None = None
    url: StrictStr | None = None
    path: StrictStr | None = None


Part = Annotated[TextPart | ImageUrlPart | ImagePart, Field(discriminator="type")]
PART_TYPES = ("text", "image_url", "image")


def _get(part: Any, key: str) -> Any:
    return part.get(key) if isinstance(part, dict) else getattr(part, key, None)


def text_of(content: Any) -> str:
    """The text of a content: a string as it is, None as "", a list of parts as its text parts
    joined with nothing between them (as the chat templates that take parts write them).

    Example:
        >>> text_of([{"type": "text", "text": "Look: "}, {"type": "image"}, {"type": "text", "text": "a cat"}])
        'Look: a cat'
    """
    if content is None or isinstance(content, str):
        return content or ""
    return "".join(_get(p, "text") for p in content if _get(p, "type") == "text")


def comparable_text(content: Any) -> str:
    """`text_of`, with each image in place as U+001A and what names it (nothing for the next of
    the row's `images`): what duplicate detection compares. U+001A, a control character, cannot
    occur in a valid row's text."""
    if content is None or isinstance(content, str):
        return content or ""
    out = []
    for part in content:
        if _get(part, "type") == "text":
            out.append(_get(part, "text"))
        elif (image := part_image(part)) is not None:
            out.append("\x1a" + (image[0] or ""))
    return "".join(out)


def as_parts(messages: list[dict[str, Any]], needs_parts: Any) -> list[dict[str, Any]]:
    """`messages` with each string content of a role for which `needs_parts(role)` holds written as
    one text part (what `validate --fix` does for a template that reads parts only:
    `PartSupport.needs_parts`); other messages as they are."""
    return [{**m, "content": [{"type": "text", "text": m["content"]}]}
            if isinstance(m.get("content"), str) and needs_parts(m.get("role")) else m for m in messages]


class ImageRef(NamedTuple):
    """One image of a row: what names it (a path, a URL, a data URL; None for an image the row
    holds as bytes), where it is written (`messages[0].content[1].image_url.url`, `images[2]`),
    and its bytes when the row holds them (a Parquet `Image` column)."""

    ref: str | None
    where: str
    data: bytes | None = None


def part_image(part: Any) -> tuple[str | None, str] | None:
    """(the image a part names or None for a bare `{"type": "image"}`, the field naming it), or
    None when the part is not an image part."""
    kind = _get(part, "type")
    if kind == "image_url":
        return _get(_get(part, "image_url"), "url"), "image_url.url"
    if kind != "image":
        return None
    for key in IMAGE_FIELDS:
        if (value := _get(part, key)) is not None:
            return value, key
    return None, ""


def column_image(value: Any, where: str) -> ImageRef | None:
    """An entry of a row's `images` column as an `ImageRef` (a path or URL, or a `{"path", "bytes"}`
    object as `datasets` stores an `Image` feature), else None (not an image)."""
    if isinstance(value, str):
        return ImageRef(value, where)
    if isinstance(value, dict):
        data, path = value.get("bytes"), value.get("path")
        if isinstance(data, (bytes, bytearray)):
            return ImageRef(path if isinstance(path, str) else None, where, bytes(data))
        if isinstance(path, str) and data is None:
            return ImageRef(path, f"{where}.path")
    return None


# --- from one layout to another ----------------------------------------------------------------

LAYOUTS = ("hf", "openai", "placeholders")
_PART_KEYS = {"text": {"type", "text"}, "image": {"type", *IMAGE_FIELDS}, "image_url": {"type", "image_url"}}


class LayoutError(ValueError):
    """A row that `relayout` cannot write in the layout asked for without losing something."""


def _pieces(messages: list[dict[str, Any]], column: list[Any] | None) -> list[list[tuple[str, Any]] | None]:
    """Per message: its content as ("text", str) and ("image", entry) pieces in order (None: a message
    without content to move, such as a call's null content); `entry` a path, URL, data URL or a
    column's {"bytes", "path"}. Bare image parts and `<image>` placeholders take the column's
    entries in order."""
    column = list(column or [])
    taken = 0
    bare = any(isinstance(m.get("content"), list) and any(part_image(p) == (None, "") for p in m["content"])
               for m in messages)
    out: list[list[tuple[str, Any]] | None] = []
    for i, m in enumerate(messages):
        content = m.get("content")
        if content is None:
            out.append(None)
            continue
        pieces: list[tuple[str, Any]] = []
        if isinstance(content, str):
            texts = content.split(PLACEHOLDER) if column and not bare else [content]
            for k, text in enumerate(texts):
                if k:
                    pieces.append(("image", column[taken] if taken < len(column) else None))
                    taken += 1
                if text:
                    pieces.append(("text", text))
        else:
            for j, part in enumerate(content):
                extra = set(part) - _PART_KEYS.get(part.get("type"), set())
                if part.get("type") == "image_url":
                    extra |= set(part["image_url"]) - {"url"}
                if extra:
                    raise LayoutError(f"messages[{i}].content[{j}] holds {', '.join(sorted(extra))}, which another "
                                      "layout cannot hold")
                image = part_image(part)
                if image is None:
                    pieces.append(("text", part["text"]))
                elif image[0] is None:
                    pieces.append(("image", column[taken] if taken < len(column) else None))
                    taken += 1
                else:
                    pieces.append(("image", image[0]))
        if any(kind == "image" and entry is None for kind, entry in pieces):
            raise LayoutError("the row has more placeholders than images (image-count-mismatch)")
        out.append(pieces)
    if taken != len(column):
        raise LayoutError("the row's images are not as many as its placeholders (image-count-mismatch)")
    return out


def relayout(messages: list[dict[str, Any]], column: list[Any] | None,
             layout: str) -> tuple[list[dict[str, Any]], list[Any] | None]:
    """(messages, `images` column or None) of a row written in `layout`: `hf` (text parts and bare
    `{"type": "image"}` parts, the images in the column), `openai` (text and `image_url` parts, no
    column; an image held as bytes becomes a data URL), `placeholders` (LLaMA-Factory: strings with
    `<image>`, the images in the column). Text and images keep their order; a message without an
    image keeps its content as it is (a string stays a string), except in `placeholders`, where
    text parts join into one string. `LayoutError` where the row cannot be written there whole.

    Example:
        >>> relayout([{"role": "user", "content": "<image>What is it?"}], ["cat.png"], "openai")[0][0]["content"]
        [{'type': 'image_url', 'image_url': {'url': 'cat.png'}}, {'type': 'text', 'text': 'What is it?'}]
    """
    if layout not in LAYOUTS:
        raise ValueError(f"layout must be one of {', '.join(LAYOUTS)}, not {layout!r}")
    pieces = _pieces(messages, column)
    if layout == "placeholders" and any(kind == "text" and PLACEHOLDER in value
                                        for own in pieces if own for kind, value in own):
        raise LayoutError(f"a text holds {PLACEHOLDER} itself: in the placeholders layout it would read as an image")
    out, images = [], []
    for m, own in zip(messages, pieces):
        has_image = own is not None and any(kind == "image" for kind, _ in own)
        if own is None or (not has_image and layout != "placeholders"):
            out.append(m)
            continue
        if layout == "placeholders":
            content: Any = "".join(PLACEHOLDER if kind == "image" else value for kind, value in own)
            images += [value for kind, value in own if kind == "image"]
        elif layout == "hf":
            content = [{"type": "image"} if kind == "image" else {"type": "text", "text": value} for kind, value in own]
            images += [value for kind, value in own if kind == "image"]
        else:
            content = [{"type": "image_url", "image_url": {"url": _url(value)}} if kind == "image" else
                       {"type": "text", "text": value} for kind, value in own]
        out.append({**m, "content": content})
    return out, (images or None) if layout != "openai" else None


def _url(entry: Any) -> str:
    """An image entry as a URL for an `image_url` part: as it is, or its bytes as a data URL."""
    if isinstance(entry, str):
        return entry
    if isinstance(entry, dict) and isinstance(entry.get("bytes"), (bytes, bytearray)):
        import base64

        return "data:image;base64," + base64.b64encode(entry["bytes"]).decode("ascii")
    if isinstance(entry, dict) and isinstance(entry.get("path"), str):
        return entry["path"]
    raise LayoutError(f"an image entry the openai layout cannot hold: {type(entry).__name__}")

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


class TextPart(BaseModel):
    """A text part; unknown keys are kept."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: Literal["text"]
    text: StrictStr


class ImageUrl(BaseModel):
    """OpenAI's `image_url` object: the URL (or a data URL) and what else it says (`detail`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    url: StrictStr


class ImageUrlPart(BaseModel):
    """An OpenAI image part."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

    type: Literal["image_url"]
    image_url: ImageUrl


class ImagePart(BaseModel):
    """A Hugging Face image part: the image it names, or none (the next of the row's `images`)."""

    model_config = ConfigDict(extra="allow", frozen=True, strict=True)

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


def is_parts(content: Any) -> bool:
    """Whether a content is a list of parts (not a string or None)."""
    return isinstance(content, list)


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

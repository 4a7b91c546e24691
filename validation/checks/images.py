"""The images of a row: placeholders counted against the row's `images`, and each image checked.

A local image is opened by Pillow, which reads its header only (format and size; the pixels stay
on disk), so a dataset of any number of images is checked in bounded memory. A URL is not fetched
(`remote-image`, a warning that says so); a data URL is decoded from base64 and its header read.
Layouts: validation/content.py.
"""

from __future__ import annotations

import base64
import binascii
import json
import io
import os
import re
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

from validation.content import PLACEHOLDER, ImageRef, column_image, part_image, text_of
from validation.readers.decode import json_type

Found = tuple[str, str, str]  # (path into the row, code, message)
MAX_ASPECT = 200  # Qwen2-VL's processor refuses a wider ratio (smart_resize); others squash such an image to lines
_URL = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://")


SAMPLE = 200  # rows `stats` looks at to tell whether a dataset that is not a plain JSONL file holds images
NAMED = b'"image'  # what a row's JSON holds when it names an image (a key, a part's type): `stats` searches a plain file


def names_image(row: Any) -> bool:
    """Whether a row's data names an image, as `stats` looks at the first rows of a dataset for one."""
    return isinstance(row, dict) and ("images" in row or '"image' in json.dumps(row, default=repr))


class ImageChecks:
    """Checks the images rows name; relative paths are read from `root` (the dataset's folder,
    unless `--image-root` names another)."""

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = Path(os.path.abspath(root if root is not None else os.getcwd()))

    @classmethod
    def beside(cls, dataset: str | os.PathLike[str] | None, root: str | os.PathLike[str] | None = None) -> ImageChecks:
        """The checks of the images of a dataset file or folder: relative paths from `root`, else
        from its folder (a file's folder, a folder itself)."""
        if root is None and dataset is not None:
            root = dataset if Path(dataset).is_dir() else Path(dataset).parent
        return cls(root)

    @classmethod
    def of(cls, data: Any, root: str | os.PathLike[str] | None = None) -> ImageChecks:
        """The checks of an opened dataset's images: relative paths from `root`, else from its
        `image_root` (--image-root, or the file's folder; the working directory for rows in memory)."""
        return cls(root if root is not None else data.image_root)

    def __reduce__(self) -> tuple[Any, ...]:  # (sent to worker processes as its folder)
        return ImageChecks, (self.root,)

    @staticmethod
    def is_remote(ref: str) -> bool:
        """Whether `ref` is a URL other than `file://` (not fetched)."""
        return not ref.startswith("file://") and _URL.match(ref) is not None

    def local_path(self, ref: str) -> Path:
        """The file a path or `file://` URL names (relative: from the root)."""
        return self.root / (unquote(urlparse(ref).path) if ref.startswith("file://") else ref)

    def locate(self, image: ImageRef) -> bytes | Path | None:
        """Where an image is: its bytes (held by the row, or a data URL's, decoded), the local file a
        path or `file://` URL names, or None for a URL (not fetched). ValueError, saying why, for a
        data URL that is not base64. (`image` names an image or holds its bytes.)"""
        if image.data is not None:
            return image.data
        ref = image.ref or ""
        if ref.startswith("data:"):
            head, comma, payload = ref.partition(",")
            if not comma or not head.endswith(";base64"):
                raise ValueError("a data URL of an image must be base64: data:image/png;base64,...")
            try:
                return base64.b64decode(payload, validate=True)
            except (binascii.Error, ValueError) as exc:
                raise ValueError(f"the data URL is not valid base64 ({exc})") from None
        return None if self.is_remote(ref) else self.local_path(ref)

    def check(self, image: ImageRef) -> list[Found]:
        """The problems of one image: none when its header reads as an image of a usable size."""
        ref, where = image.ref, image.where
        if image.data is None and ref is None:
            return []
        try:
            found = self.locate(image)
        except ValueError as exc:
            return [(where, "invalid-data-url", str(exc))]
        if isinstance(found, bytes):
            return _header(io.BytesIO(found), where, "the image's bytes" if image.data is not None else "the data URL")
        if found is None:
            return [(where, "remote-image", f"{_short(ref)} is not fetched (no network is used), so it is not "
                                            "checked")]
        path = found
        ref = unquote(urlparse(ref).path) if ref.startswith("file://") else ref
        try:
            if not path.is_file():  # (a folder, a FIFO or a device is never opened: reading one could block)
                if path.exists():
                    return [(where, "image-unreadable", f"{ref} is not a regular file")]
                return [(where, "image-not-found", f"{ref} does not exist (relative paths are read from "
                                                   f"{_shown(self.root)})")]
            with open(path, "rb") as file:
                return _header(file, where, ref)
        except OSError as exc:
            return [(where, "image-unreadable", f"{ref} cannot be read: {exc.strerror or exc}")]


def _shown(folder: Path) -> str:
    """A folder as a message names it: relative to the working directory when it lies inside it."""
    relative = os.path.relpath(folder)
    return folder.as_posix() if relative.startswith("..") else relative


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def _short(ref: str, limit: int = 80) -> str:
    return ref if len(ref) <= limit else ref[:limit - 3] + "..."


def _header(file: Any, where: str, what: str) -> list[Found]:
    """The problems of the image whose file is open: Pillow reads its header (not its pixels)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(file) as image:
                width, height = image.size
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        return [(where, "image-size", f"{_short(what)}: {exc}")]
    except UnidentifiedImageError:
        return [(where, "image-unreadable", f"{_short(what)} is not an image Pillow can read")]
    except (OSError, SyntaxError, ValueError) as exc:  # a truncated or damaged header
        return [(where, "image-unreadable", f"{_short(what)} has a damaged header ({exc})")]
    if width < 1 or height < 1:
        return [(where, "image-size", f"{_short(what)} is {width}x{height} pixels")]
    if max(width, height) / min(width, height) > MAX_ASPECT:
        return [(where, "extreme-aspect-ratio", f"{_short(what)} is {width}x{height} pixels (ratio over "
                                                f"{MAX_ASPECT}:1)")]
    return []


def row_images(messages: list[Any], fields: dict[str, Any],
               path: Callable[[int, str], str]) -> tuple[list[ImageRef], list[Found]]:
    """(every image of a row, in order; problems of how they are written): the images its parts
    name, and the entries of its `images` column, whose number must equal the placeholders
    (`{"type": "image"}` parts, else `<image>` in the text). `messages` are valid message dicts."""
    refs: list[ImageRef] = []
    bare, written = 0, 0
    for i, message in enumerate(messages):
        content = message.get("content")
        if isinstance(content, list):
            for j, part in enumerate(content):
                found = part_image(part)
                if found is None:
                    continue
                if found[0] is None:
                    bare += 1
                else:
                    refs.append(ImageRef(found[0], f"{path(i, 'content')}[{j}].{found[1]}"))
        written += text_of(content).count(PLACEHOLDER)
    if "images" not in fields and not bare:
        return refs, []
    column = fields.get("images")
    if column is None:
        column = []
    if not isinstance(column, list):
        return refs, [("images", "wrong-type", f"images must be a list of images, got {json_type(column)}")]
    problems: list[Found] = []
    for k, value in enumerate(column):
        ref = column_image(value, f"images[{k}]")
        if ref is None:
            problems.append((f"images[{k}]", "wrong-type",
                             f"an image is a path, a URL or {{\"bytes\", \"path\"}}, got {json_type(value)}"))
        else:
            refs.append(ref)
    placeholders, kind = (bare, '{"type": "image"} parts') if bare else (written, f"{PLACEHOLDER} in the text")
    if placeholders != len(column):
        problems.append(("images", "image-count-mismatch",
                         f"{_count(len(column), 'image')} for {_count(placeholders, 'placeholder')} ({kind}): "
                         "each placeholder takes the next image, so they must be as many"))
    return refs, problems

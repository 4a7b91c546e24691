"""Image statistics of a dataset whose rows hold images (content parts, an `images` column).

One pass over the rows, as `validate` reads their images (validation/checks/images.py): each local
image's header read by Pillow (format and size, never its pixels) and its bytes hashed in blocks
(repeats are the same bytes), so memory holds one small record per image; URLs are counted, not
fetched. `image_frame` is that record per image; `image_counts` the summary (docs/stats.md).
"""

from __future__ import annotations

import hashlib
import io
import mmap
from collections import Counter
from collections.abc import Iterable
from typing import Any

import polars as pl

from validation.checks.images import NAMED, SAMPLE, ImageChecks, names_image, row_images
from validation.content import PLACEHOLDER, part_image, text_of
from validation.checks.messages import with_call_content
from validation.errors import RowProblems
from validation.statistics.frames import readable
from validation.readers.files import Record
from validation.readers.formats import Format
from validation.readers.source import Dataset
from validation.summaries import ImageCounts

IMAGE_SCHEMA = {"conversation": pl.UInt32, "format": pl.String, "width": pl.UInt32, "height": pl.UInt32,
                "digest": pl.Binary}


def has_images(data: Dataset) -> bool:
    """Does the dataset name any image? A plain JSONL file is searched whole (its bytes, mapped);
    other sources by their first `SAMPLE` rows."""
    if searched_whole(data):
        if not data.size:
            return False
        with mmap.mmap(data.fd(), 0, access=mmap.ACCESS_READ) as view:  # (the file the dataset holds open)
            return view.find(NAMED) >= 0
    for k, record in enumerate(data.records()):
        if k >= SAMPLE:
            return False
        if names_image(record.data):
            return True
    return False


def searched_whole(data: Dataset) -> bool:
    """Whether `has_images` searches the bytes of the whole file (a plain JSONL file) rather than the first rows."""
    return data.kind == "jsonl" and data.path is not None and data.compression is None and not data.renamed


def image_frame(data: Dataset, root: Any = None) -> tuple[pl.DataFrame, Counter[str], Counter[int]]:
    """(one row per image: the conversation it is in (counted over the rows `stats` reads), its
    format ("remote" for a URL, "unreadable" for one that cannot be read), width, height and the
    digest of its bytes; images per role; images per row), over every row of `data`."""
    return image_rows(data.records(), data.format, ImageChecks.of(data, root))


def image_rows(records: Iterable[Record], fmt: Format, checks: ImageChecks) -> tuple[pl.DataFrame, Counter[str],
                                                                                      Counter[int]]:
    """`image_frame` of `records` read as `fmt`, their images found by `checks`."""
    columns: dict[str, list[Any]] = {name: [] for name in IMAGE_SCHEMA}
    roles: Counter[str] = Counter()
    per_row: Counter[int] = Counter()
    conversation = 0
    for record in records:
        row = record.data
        if not isinstance(row, dict):
            continue
        try:
            messages = [with_call_content(m) if isinstance(m, dict) else m for m in fmt.to_messages(row)]
        except RowProblems:
            continue
        if not readable(messages):  # (a row the other statistics skip: its images are not counted either)
            continue
        refs, _ = row_images(messages, row, lambda i, field: f"messages[{i}].{field}")
        contents = [m.get("content") for m in messages]
        parts = [[p for p in c if isinstance(p, dict)] if isinstance(c, list) else [] for c in contents]
        # where each image stands: its part; the column's images, as row_images matches them, at the bare
        # {"type": "image"} parts when there are any, else at the <image> placeholders in the text
        bare = any(part_image(p) == (None, "") for own in parts for p in own)
        for message, content, own in zip(messages, contents, parts):
            count = sum(part_image(p) is not None for p in own)
            if "images" in row and not bare and isinstance(content, (str, list)):
                count += text_of(content).count(PLACEHOLDER)
            if count and isinstance(message.get("role"), str):
                roles[message["role"]] += count
        per_row[len(refs)] += 1
        for ref in refs:
            kind, width, height, digest = _described(checks, ref)
            columns["conversation"].append(conversation)
            columns["format"].append(kind)
            columns["width"].append(width)
            columns["height"].append(height)
            columns["digest"].append(digest)
        conversation += 1
    return pl.DataFrame(columns, schema=IMAGE_SCHEMA), roles, per_row


def _described(checks: ImageChecks, ref: Any) -> tuple[str, int | None, int | None, bytes | None]:
    """(format, width, height, digest) of one image; ("remote" | "unreadable", None, None, None)
    when it cannot be read here."""
    from PIL import Image, UnidentifiedImageError

    if ref.data is None and ref.ref is None:
        return "unreadable", None, None, None
    try:
        found = checks.locate(ref)
        if found is None:
            return "remote", None, None, None
        if not isinstance(found, bytes) and not found.is_file():  # (a FIFO or a device is never opened)
            return "unreadable", None, None, None
        with io.BytesIO(found) if isinstance(found, bytes) else open(found, "rb") as file:
            digest = hashlib.blake2b(digest_size=16)
            while block := file.read(1 << 20):
                digest.update(block)
            file.seek(0)
            with Image.open(file) as image:
                return image.format or "unknown", image.size[0], image.size[1], digest.digest()
    except (OSError, ValueError, UnidentifiedImageError, SyntaxError, Image.DecompressionBombError):
        return "unreadable", None, None, None


def _spread(values: pl.Series) -> dict[str, float | int | None]:
    if values.len() == 0:
        return {"min": None, "p50": None, "p90": None, "max": None}
    return {"min": _num(values.min()), "p50": _num(values.quantile(0.5, "linear")),
            "p90": _num(values.quantile(0.9, "linear")), "max": _num(values.max())}


def _num(value: Any) -> Any:
    return round(value, 3) if isinstance(value, float) else value


def image_counts(frame: pl.DataFrame, roles: Counter[str], per_row: Counter[int]) -> ImageCounts:
    """The images section of `stats` from `image_frame`'s result."""
    read = frame.filter(pl.col("width").is_not_null())
    sized = read.filter((pl.col("width") > 0) & (pl.col("height") > 0))
    rows = sum(per_row.values())
    return ImageCounts.model_validate({
        "images": frame.height, "rows_with_images": rows - per_row.get(0, 0), "rows_without_images": per_row.get(0, 0),
        "per_row": {str(k): n for k, n in sorted(per_row.items())},
        "by_role": dict(sorted(roles.items(), key=lambda kv: (-kv[1], kv[0]))),
        "formats": {k: int(n) for k, n in frame.group_by("format").len().sort(["len", "format"],
                                                                             descending=[True, False]).iter_rows()},
        "distinct": read["digest"].n_unique() if read.height else 0,
        "repeated": read.height - (read["digest"].n_unique() if read.height else 0),
        "width": _spread(read["width"]), "height": _spread(read["height"]),
        "aspect_ratio": _spread((sized["width"].cast(pl.Float64) / sized["height"].cast(pl.Float64)))})

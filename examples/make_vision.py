"""Writes examples/vision.jsonl and its images, examples/vision_images/*.png: questions about simple
pictures, written for instructkit in English and Korean. Each picture is one shape in one colour
on white, drawn with Pillow; the rows ask what it is, its colour, or compare two pictures, in the
three layouts instructkit reads: Hugging Face parts with the row's `images`, parts that name
their image, and OpenAI `image_url` parts.

Run: python examples/make_vision.py (the files are committed; this is how they were made).
"""

from __future__ import annotations

import json
from pathlib import Path

HERE = Path(__file__).parent
FOLDER = "vision_images"
SIZE = (96, 72)
COLOURS = {"red": ((220, 40, 40), "빨간색"), "blue": ((40, 80, 220), "파란색"), "green": ((40, 160, 70), "초록색"),
           "yellow": ((235, 200, 30), "노란색")}
SHAPES = {"circle": "원", "square": "사각형", "triangle": "삼각형"}


def pictures() -> dict[str, tuple[str, str]]:
    """{file name: (shape, colour)} of every picture."""
    return {f"{colour}_{shape}.png": (shape, colour) for shape in SHAPES for colour in COLOURS}


def draw(shape: str, colour: str) -> object:
    """The picture of `shape` in `colour` (a Pillow image)."""
    from PIL import Image, ImageDraw

    image = Image.new("RGB", SIZE, (255, 255, 255))
    pen = ImageDraw.Draw(image)
    fill = COLOURS[colour][0]
    box = (24, 12, 72, 60)
    if shape == "circle":
        pen.ellipse(box, fill=fill)
    elif shape == "square":
        pen.rectangle(box, fill=fill)
    else:
        pen.polygon([(48, 12), (72, 60), (24, 60)], fill=fill)
    return image


def _ask(image: str, question: str, answer: str, layout: int) -> dict:
    path = f"{FOLDER}/{image}"
    if layout == 0:  # Hugging Face / TRL: a bare image part, the row's `images`
        return {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
                             {"role": "assistant", "content": [{"type": "text", "text": answer}]}],
                "images": [path]}
    if layout == 1:  # a part that names its image
        return {"messages": [{"role": "user", "content": [{"type": "image", "path": path},
                                                          {"type": "text", "text": question}]},
                             {"role": "assistant", "content": answer}]}
    return {"messages": [{"role": "user", "content": [{"type": "text", "text": question},  # OpenAI
                                                      {"type": "image_url", "image_url": {"url": path}}]},
                         {"role": "assistant", "content": answer}]}


def rows() -> list[dict]:
    """Every row, in a fixed order."""
    out = []
    for k, (image, (shape, colour)) in enumerate(sorted(pictures().items())):
        shape_ko, colour_ko = SHAPES[shape], COLOURS[colour][1]
        out.append(_ask(image, "What shape is in this picture, and what colour is it?",
                        f"A {colour} {shape} on a white background.", k % 3))
        out.append(_ask(image, "이 그림에 있는 도형은 무엇이고 무슨 색인가요?",
                        f"흰 바탕에 {colour_ko} {shape_ko}이 있습니다.", (k + 1) % 3))
    pairs = [("red_circle.png", "blue_circle.png"), ("green_square.png", "green_triangle.png"),
             ("yellow_triangle.png", "red_triangle.png"), ("blue_square.png", "yellow_circle.png")]
    for first, second in pairs:
        (shape_a, colour_a), (shape_b, colour_b) = pictures()[first], pictures()[second]
        same = "the same shape" if shape_a == shape_b else "different shapes"
        out.append({"messages": [
            {"role": "user", "content": [{"type": "text", "text": "Compare the two pictures."}, {"type": "image"},
                                         {"type": "image"}]},
            {"role": "assistant", "content": f"The first is a {colour_a} {shape_a}, the second a {colour_b} "
                                             f"{shape_b}: {same}."}],
            "images": [f"{FOLDER}/{first}", f"{FOLDER}/{second}"]})
    out.append({"messages": [{"role": "user", "content": "Which colours do the pictures in this set use?"},
                             {"role": "assistant", "content": "Red, blue, green and yellow."}]})  # a text-only row
    return out


def main() -> None:
    folder = HERE / FOLDER
    folder.mkdir(exist_ok=True)
    for name, (shape, colour) in sorted(pictures().items()):
        draw(shape, colour).save(folder / name, optimize=True)  # type: ignore[attr-defined]
    with open(HERE / "vision.jsonl", "w", encoding="utf-8") as out:
        for row in rows():
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()

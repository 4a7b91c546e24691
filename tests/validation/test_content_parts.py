"""Content parts and images in the dataset passes: every layout read, images checked where the
dataset lies, nothing lost on the way (duplicates, --fix, convert, stats), hostile files refused
without hanging."""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import DATA
from validation import validate
from validation.models import Message

RED = DATA / "broken" / "images" / "red.png"


def write(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    return path


def issues(report) -> list[tuple[int, str, str]]:
    return [(i.row, i.path, i.code) for i in report.issues]


def image_rows(folder: Path) -> list[dict]:
    """One row per layout, each naming images/red.png relative to `folder` (or holding it)."""
    (folder / "images").mkdir(exist_ok=True)
    (folder / "images" / "red.png").write_bytes(RED.read_bytes())
    data_url = "data:image/png;base64," + base64.b64encode(RED.read_bytes()).decode()
    answer = {"role": "assistant", "content": "A red square."}
    return [
        {"messages": [{"role": "user", "content": [{"type": "text", "text": "What is this?"},
                                                   {"type": "image_url", "image_url": {"url": data_url}}]}, answer]},
        {"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "무슨 색인가요?"}]},
                      {"role": "assistant", "content": [{"type": "text", "text": "빨간색입니다."}]}],
         "images": ["images/red.png"]},
        {"messages": [{"role": "user", "content": [{"type": "image", "path": "images/red.png"},
                                                   {"type": "text", "text": "Describe it."}]}, answer]},
        {"messages": [{"role": "user", "content": [{"type": "image", "url": "file://" + str(folder / "images/red.png")},
                                                   {"type": "text", "text": "And this?"}]}, answer]},
        {"conversations": [{"from": "human", "value": "<image>What colour is it?"}, {"from": "gpt", "value": "Red."}],
         "images": ["images/red.png"]},
    ]


def test_every_image_layout_is_valid_where_its_images_are(tmp_path, monkeypatch):
    rows = image_rows(tmp_path)
    messages = write(tmp_path / "parts.jsonl", rows[:4])
    sharegpt = write(tmp_path / "sharegpt.jsonl", [rows[4]])
    monkeypatch.chdir(tmp_path.parent)  # relative paths are read from the dataset's folder, not from here
    report = validate(messages)
    assert (report.rows, report.valid, issues(report)) == (4, 4, [])
    report = validate(sharegpt)
    assert (report.format, report.valid, issues(report)) == ("sharegpt", 1, [])


def test_image_root_names_the_folder_relative_paths_are_read_from(tmp_path, cli):
    rows = image_rows(tmp_path)
    (tmp_path / "data").mkdir()
    source = write(tmp_path / "data" / "rows.jsonl", rows[1:3])
    report = cli("validate", source, "--json").json()
    assert [(i["row"], i["path"], i["code"]) for i in report["issues"]] == [
        (1, "images[0]", "image-not-found"), (2, "messages[0].content[0].path", "image-not-found")]
    assert f"relative paths are read from {tmp_path / 'data'}" in report["issues"][0]["message"]
    report = cli("validate", source, "--json", "--image-root", tmp_path).json()
    assert report["issues"] == [] and report["valid"] == 2
    # every command that reads images takes the same root: render, stats, audit
    result = cli("render", source, "--template", "qwen3.5", "--image-root", tmp_path)
    assert result.code == 0 and result.out.count("<|image_pad|>") == 2
    assert cli("stats", source, "--json", "--image-root", tmp_path).json()["images"]["formats"] == {"PNG": 2}
    assert "image-not-found" in cli("render", source, "--template", "qwen3.5").err


def test_rows_with_the_same_text_and_other_images_are_not_duplicates(tmp_path):
    (tmp_path / "blue.png").write_bytes(RED.read_bytes())
    (tmp_path / "red.png").write_bytes(RED.read_bytes())

    def row(image: str) -> dict:
        return {"messages": [{"role": "user", "content": [{"type": "image", "image": image},
                                                          {"type": "text", "text": "What colour?"}]},
                             {"role": "assistant", "content": "It depends."}]}
    report = validate(write(tmp_path / "rows.jsonl", [row("red.png"), row("blue.png"), row("red.png")]))
    assert issues(report) == [(3, "messages", "duplicate")]
    bare = [{"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What colour?"}]},
                          {"role": "assistant", "content": "It depends."}], "images": [name]}
            for name in ("red.png", "blue.png", "red.png")]  # the images in the row's column, not in the parts
    assert issues(validate(write(tmp_path / "bare.jsonl", bare))) == [(3, "messages", "duplicate")]


def test_a_fifo_or_a_folder_named_as_an_image_is_refused_without_being_opened(tmp_path):
    os.mkfifo(tmp_path / "pipe.png")  # opening it for reading would block forever
    (tmp_path / "folder.png").mkdir()
    rows = [{"messages": [{"role": "user", "content": [{"type": "image", "image": name},
                                                       {"type": "text", "text": "Hi"}]},
                          {"role": "assistant", "content": "Hello."}]} for name in ("pipe.png", "folder.png")]
    report = validate(write(tmp_path / "rows.jsonl", rows))
    assert [(i.row, i.code, i.message) for i in report.issues] == [
        (1, "image-unreadable", "pipe.png is not a regular file"),
        (2, "image-unreadable", "folder.png is not a regular file")]


def test_fix_joins_text_only_parts_where_the_template_takes_none(tmp_path, cli):
    rows = [{"messages": [{"role": "system", "content": [{"type": "text", "text": "Be "},
                                                         {"type": "text", "text": "brief."}]},
                          {"role": "user", "content": [{"type": "text", "text": "Name a "},
                                                       {"type": "text", "text": "colour."}]},
                          {"role": "assistant", "content": "Red."}]}]
    source, clean = write(tmp_path / "rows.jsonl", rows), tmp_path / "clean.jsonl"
    report = cli("validate", source, "--json", "--template", "gemma3").json()
    # gemma3 takes parts from the user; of a system turn (folded into the first user turn) it writes the first only
    assert [(i["path"], i["code"]) for i in report["issues"]] == [("messages[0].content", "parts-not-supported")]
    report = cli("validate", source, "--json", "--template", "gemma3", "--fix", "--write-clean", clean).json()
    assert [(f["path"], f["code"]) for f in report["fixes"]] == [("messages[0].content", "parts-joined")]
    assert report["issues"] == []
    assert json.loads(clean.read_text())["messages"][:2] == [
        {"role": "system", "content": [{"type": "text", "text": "Be brief."}]},
        {"role": "user", "content": [{"type": "text", "text": "Name a "}, {"type": "text", "text": "colour."}]}]
    report = cli("validate", source, "--json", "--template", "smollm2", "--fix", "--write-clean", clean).json()
    assert [(f["path"], f["code"]) for f in report["fixes"]] == [("messages[0].content", "parts-joined"),
                                                               ("messages[1].content", "parts-joined")]
    assert json.loads(clean.read_text())["messages"][1] == {"role": "user", "content": "Name a colour."}


def test_convert_keeps_parts_where_the_target_holds_them_and_says_where_it_cannot(tmp_path, cli):
    rows = image_rows(tmp_path)[1:3]
    source = write(tmp_path / "rows.jsonl", rows)
    assert cli("convert", source, "--to", "sharegpt", "-o", tmp_path / "sharegpt.jsonl").code == 0
    assert cli("convert", tmp_path / "sharegpt.jsonl", "--to", "messages", "-o", tmp_path / "back.jsonl").code == 0
    assert [json.loads(line) for line in (tmp_path / "back.jsonl").read_text().splitlines()] == \
        [{k: r[k] for k in sorted(r, key=lambda k: k != "images")} for r in rows]
    result = cli("convert", source, "--to", "alpaca", "-o", tmp_path / "alpaca.jsonl", "--json")
    assert result.code == 1 and not (tmp_path / "alpaca.jsonl").exists()
    assert "alpaca holds text, but messages[0].content is a list of content parts" in result.out


def test_stats_read_the_text_of_parts(tmp_path, cli):
    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": "ab"}, {"type": "text", "text": "c"}]},
                          {"role": "assistant", "content": "de"}]}]
    report = cli("stats", write(tmp_path / "rows.jsonl", rows), "--json").json()
    assert (report["rows"], report["skipped_rows"], report["messages"]) == (1, 0, 2)
    assert report["length_chars"]["user"]["max"] == 3  # "ab" + "c"


PART = st.one_of(
    st.builds(lambda t: {"type": "text", "text": t}, st.text(max_size=20)),
    st.just({"type": "image"}),
    st.builds(lambda p: {"type": "image", "path": p}, st.text(min_size=1, max_size=10)),
    st.builds(lambda u, d: {"type": "image_url", "image_url": {"url": u, **({"detail": d} if d else {})}},
              st.text(min_size=1, max_size=10), st.sampled_from([None, "low", "high"])),
    st.builds(lambda t, x: {"type": "text", "text": t, "cache_control": x}, st.text(max_size=5),
              st.just({"type": "ephemeral"})))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(parts=st.lists(PART, min_size=1, max_size=5), role=st.sampled_from(["user", "assistant", "system"]))
def test_a_message_of_parts_reads_back_as_it_was_written(parts, role):
    message = {"role": role, "content": parts}
    assert Message.model_validate(message).to_dict() == message


@pytest.mark.parametrize("content, code", [
    ([{"type": "text"}], "missing-field"), ([{"type": "text", "text": 1}], "wrong-type"),
    (["hi"], "invalid-content-part"), ([{"text": "hi"}], "missing-field"),
    ([{"type": "image_url", "image_url": "x.png"}], "invalid-content-part"),
    ([{"type": "image", "path": 3}], "wrong-type"), ([{"type": "video"}], "invalid-content-part"),
    ([], "empty-content"), ([{"type": "text", "text": " "}], "whitespace-content")])
def test_each_broken_part_is_named_with_its_path(content, code):
    report = validate([{"messages": [{"role": "user", "content": content}, {"role": "assistant", "content": "ok"}]}])
    assert [i.code for i in report.issues] == [code] and report.invalid == 1
    assert report.issues[0].path.startswith("messages[0].content")


EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "vision.jsonl"


def test_the_vision_example_is_what_its_generator_writes_and_every_image_is_valid(cli):
    from PIL import Image, ImageChops

    from tests.conftest import written_by_generator

    assert EXAMPLE.read_text(encoding="utf-8") == written_by_generator(EXAMPLE, "make_vision.py")
    import importlib.util

    spec = importlib.util.spec_from_file_location("make_vision", EXAMPLE.with_name("make_vision.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    for name, (shape, colour) in module.pictures().items():  # the pictures, pixel for pixel (PNG bytes vary by zlib)
        with Image.open(EXAMPLE.parent / module.FOLDER / name) as committed:
            assert ImageChops.difference(committed.convert("RGB"), module.draw(shape, colour)).getbbox() is None
    report = cli("validate", EXAMPLE, "--json").json()
    assert (report["rows"], report["valid"], report["issues"]) == (29, 29, [])
    rows = [json.loads(line) for line in EXAMPLE.read_text(encoding="utf-8").splitlines()]
    korean = [r for r in rows if any("무엇" in text for m in r["messages"] for text in [str(m["content"])])]
    assert len(korean) == 12 and sum("images" in r for r in rows) >= 8


def test_stats_count_the_images_their_formats_sizes_and_repeats(cli, tmp_path):
    report = cli("stats", EXAMPLE, "--json").json()
    assert report["images"] == {
        "images": 32, "rows_with_images": 28, "rows_without_images": 1, "per_row": {"0": 1, "1": 24, "2": 4},
        "by_role": {"user": 32}, "formats": {"PNG": 32}, "distinct": 12, "repeated": 20,
        "width": {"min": 96, "p50": 96.0, "p90": 96.0, "max": 96},
        "height": {"min": 72, "p50": 72.0, "p90": 72.0, "max": 72},
        "aspect_ratio": {"min": 1.333, "p50": 1.333, "p90": 1.333, "max": 1.333}}
    from PIL import Image

    Image.new("RGB", (40, 10)).save(tmp_path / "wide.jpg")
    rows = [{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": url}},
                                                       {"type": "text", "text": "What is it?"}]},
                          {"role": "assistant", "content": "A picture."}]}
            for url in ("wide.jpg", "https://example.com/a.png", "missing.png")]
    report = cli("stats", write(tmp_path / "rows.jsonl", rows), "--json").json()["images"]
    assert (report["formats"], report["width"]["max"], report["aspect_ratio"]["p50"]) == (
        {"JPEG": 1, "remote": 1, "unreadable": 1}, 40, 4.0)
    assert "images" not in cli("stats", DATA / "broken" / "duplicate.jsonl", "--json").json()
    broken = [{"messages": [{"role": "user", "content": [{"type": "text"}, {"type": "image"}]},
                            {"role": "assistant", "content": "x"}], "images": ["wide.jpg"]}]
    report = cli("stats", write(tmp_path / "broken.jsonl", broken), "--json").json()  # (skipped, as validate fails it)
    assert report["skipped_rows"] == 1 and "images" not in report


def test_the_length_picture_shows_the_image_sizes(tmp_path):
    from validation import stats

    picture = stats(EXAMPLE).plot(tmp_path / "lengths.png")
    from PIL import Image

    with Image.open(picture) as image:  # three panels: lengths per conversation, per reply, image sizes
        assert image.size[0] > image.size[1] * 3


def test_a_preference_pair_with_an_image_is_checked_once_where_the_dataset_lies(tmp_path, monkeypatch):
    (tmp_path / "red.png").write_bytes(RED.read_bytes())
    prompt = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Colour?"}]}]
    rows = [{"prompt": prompt, "chosen": [{"role": "assistant", "content": "Red."}],
             "rejected": [{"role": "assistant", "content": "Blue."}], "images": [image]}
            for image in ("red.png", "gone.png")]
    source = write(tmp_path / "pairs.jsonl", rows)
    monkeypatch.chdir(tmp_path.parent)
    report = validate(source)
    assert (report.format, report.valid) == ("preference", 1)
    assert issues(report) == [(2, "images[0]", "image-not-found")]  # (once, though both replies are checked)


def test_images_held_as_bytes_in_a_parquet_column_are_read_from_the_bytes(tmp_path, cli):
    import pyarrow as pa
    import pyarrow.parquet as pq

    png = RED.read_bytes()
    rows = [{"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": question}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "Red."}]}],
             "images": [{"bytes": data, "path": "red.png"}]}
            for question, data in (("What colour?", png), ("무슨 색?", png), ("And this?", b"not an image"))]
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "rows.parquet")
    report = validate(tmp_path / "rows.parquet")
    assert (report.valid, issues(report)) == (2, [(3, "images[0]", "image-unreadable")])
    summary = cli("stats", tmp_path / "rows.parquet", "--json").json()["images"]
    assert (summary["formats"], summary["distinct"], summary["repeated"]) == ({"PNG": 2, "unreadable": 1}, 1, 1)


@st.composite
def rows_in_any_layout(draw) -> tuple[list[dict], list | None]:
    """(messages, images column) of a row in any image layout: Hugging Face bare parts and a column,
    parts naming their image, OpenAI image_url parts, or LLaMA-Factory <image> strings and a column."""
    layout = draw(st.sampled_from(["bare", "named", "openai", "placeholders"]))
    texts = st.text(st.characters(blacklist_characters="<", blacklist_categories=("Cs",)), min_size=1, max_size=8)
    names = st.text("abcdefgh가나다", min_size=1, max_size=6).map(lambda s: f"{s}.png")
    messages, column = [], []
    for role in draw(st.lists(st.sampled_from(["system", "user", "assistant"]), min_size=1, max_size=4)):
        pieces = draw(st.lists(st.one_of(st.tuples(st.just("text"), texts), st.tuples(st.just("image"), names)),
                               min_size=1, max_size=4))
        if layout == "placeholders":
            column += [v for k, v in pieces if k == "image"]
            content = "".join("<image>" if k == "image" else v for k, v in pieces)
        else:
            content = []
            for kind, value in pieces:
                if kind == "text":
                    content.append({"type": "text", "text": value})
                elif layout == "bare":
                    content.append({"type": "image"})
                    column.append(value)
                else:
                    content.append({"type": "image", "path": value} if layout == "named" else
                                   {"type": "image_url", "image_url": {"url": value}})
        messages.append({"role": role, "content": content})
    return messages, column if layout in ("bare", "placeholders") and column else None


def signature(messages: list[dict], column: list | None) -> list:
    """Per message, its text runs and images in order (adjacent texts joined): what no layout may change."""
    from validation.content import _pieces

    out = []
    for pieces in _pieces(messages, column):
        merged: list = []
        for kind, value in pieces or ():
            if kind == "text" and merged and merged[-1][0] == "text":
                merged[-1] = ("text", merged[-1][1] + value)
            else:
                merged.append((kind, value))
        out.append(merged)
    return out


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(row=rows_in_any_layout(), there=st.sampled_from(["hf", "openai", "placeholders"]),
       via=st.sampled_from(["hf", "openai", "placeholders"]))
def test_a_row_keeps_its_text_and_images_in_every_layout_and_comes_back_as_it_went(row, there, via):
    from validation.content import relayout

    written = relayout(*row, there)
    assert signature(*written) == signature(*row)
    report = validate([{"messages": written[0], **({"images": written[1]} if written[1] else {})}], format="messages")
    assert not {i.code for i in report.issues} & {"invalid-content-part", "image-count-mismatch", "missing-field",
                                                  "wrong-type", "non-string-content"}  # (no image is on disk)
    back = relayout(*relayout(*written, via), there)
    if via != "placeholders" or there == "placeholders":  # (placeholders join a message's text parts into one)
        assert back == written
    assert signature(*back) == signature(*row)


def test_convert_writes_the_layout_asked_for_and_reports_what_it_cannot_hold(tmp_path, cli):
    out = tmp_path / "lf.jsonl"
    assert cli("convert", EXAMPLE, "--to", "sharegpt", "--image-layout", "placeholders", "-o", out).code == 0
    first = json.loads(out.read_text(encoding="utf-8").splitlines()[0])
    assert first == {"images": ["vision_images/blue_circle.png"], "conversations": [
        {"from": "human", "value": "<image>What shape is in this picture, and what colour is it?"},
        {"from": "gpt", "value": "A blue circle on a white background."}]}
    rows = [{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "a.png",
                                                                                           "detail": "low"}}]},
                          {"role": "assistant", "content": "ok"}]}]
    result = cli("convert", write(tmp_path / "detail.jsonl", rows), "--to", "messages", "--image-layout", "hf",
                 "-o", tmp_path / "hf.jsonl", "--json")
    assert result.code == 1 and [(i["row"], i["code"]) for i in result.json()["issues"]] == [(1, "cannot-convert")]
    assert "messages[0].content[0] holds detail" in result.json()["issues"][0]["message"]


def test_fix_wraps_strings_as_text_parts_where_the_template_reads_parts_only(tmp_path, cli):
    clean = tmp_path / "clean.jsonl"
    report = cli("validate", DATA / "broken" / "parts-required.jsonl", "--json", "--template", "smolvlm", "--fix",
                 "--write-clean", clean).json()
    assert [(f["row"], f["path"], f["code"]) for f in report["fixes"]] == [(2, "messages[1].content", "parts-wrapped")]
    assert report["issues"] == [] and report["valid"] == 3
    assert json.loads(clean.read_text().splitlines()[1])["messages"][1] == {
        "role": "assistant", "content": [{"type": "text", "text": "Answer 2."}]}


def test_where_a_template_writes_the_first_text_part_only_more_parts_are_refused_and_fix_joins_them(tmp_path, cli):
    rows = [{"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "Colour?"}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "Red, "},
                                                            {"type": "text", "text": "I think."}]}],
             "images": ["red.png"]}]
    (tmp_path / "red.png").write_bytes(RED.read_bytes())
    source, clean = write(tmp_path / "rows.jsonl", rows), tmp_path / "clean.jsonl"
    report = cli("validate", source, "--json", "--template", "llava-next").json()
    assert [(i["path"], i["code"]) for i in report["issues"]] == [("messages[1].content", "parts-not-supported")]
    assert "writes the first text part only of a assistant message" not in report["issues"][0]["message"]
    assert "first text part only of an assistant message" in report["issues"][0]["message"]
    report = cli("validate", source, "--json", "--template", "llava-next", "--fix", "--write-clean", clean).json()
    assert (report["valid"], [f["code"] for f in report["fixes"]]) == (1, ["parts-joined"])
    assert json.loads(clean.read_text())["messages"][1]["content"] == [{"type": "text", "text": "Red, I think."}]

"""Stats' readers agree: the C reader of JSONL files gives the frames the Python reader gives."""

from __future__ import annotations

import json
import re

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import conversations, metadata, wild_row, with_parts
from validation import get_format, stats, validate
from validation.readers.files import read_records
from validation.checks.prover import hash_conversation
from validation import _rowscan
from validation.statistics.frames import Frames, _python_frame, read_frames, reasoning_replies

FAST = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                        HealthCheck.function_scoped_fixture])
unicode_text = st.one_of(st.text(alphabet=st.sampled_from("aZ É ß \t\n\u00a0\u0130\u03a3\u3000\U0001f600\"\\/\x1f"),
                                 max_size=12),
                         st.sampled_from(["<think>a</think>b", "a </think>", "</think", "<", "<think>x"]))
rows = st.one_of(
    wild_row,
    st.builds(lambda ms, meta: {**meta, "messages": ms}, conversations(), metadata),
    conversations().flatmap(with_parts),  # contents as text parts (read in C), images and odd parts (left to Python)
    st.builds(lambda pairs: {"messages": [{"role": r, "content": c} for r, c in pairs]},
              st.lists(st.tuples(st.sampled_from(["user", "assistant", "system", "tool", "Bob"]), unicode_text),
                       max_size=4)),
    # reasoning fields: strings, nulls, other types, two in one message (the C reader leaves those)
    st.builds(lambda turns: {"messages": [{"role": r, "content": c, **extra} for r, c, extra in turns]},
              st.lists(st.tuples(st.sampled_from(["user", "assistant"]), unicode_text,
                                 st.dictionaries(st.sampled_from(["reasoning_content", "reasoning", "thinking"]),
                                                 st.one_of(unicode_text, st.none(), st.integers(0, 3)),
                                                 max_size=2)), max_size=4)))


@pytest.fixture(params=[True, False], ids=["spans-checked", "strings-checked"])
def span_check(request):
    """The C reader both ways: UTF-8 checked 64 KiB at a time (SSSE3, where the CPU has it) and
    string by string."""
    if request.param and not _rowscan.use_ssse3(True):
        pytest.skip("this CPU has no SSSE3")
    _rowscan.use_ssse3(request.param)
    yield request.param
    _rowscan.use_ssse3(True)


def assert_same(a: Frames, b: Frames) -> None:
    assert a.messages.equals(b.messages)
    assert a.conversations.equals(b.conversations)
    assert (a.format, a.skipped, a.empty, a.whitespace) == (b.format, b.skipped, b.empty, b.whitespace)


def write(path, rows_: list[dict], ascii_: bool) -> None:
    path.write_text("".join(json.dumps(r, ensure_ascii=ascii_) + "\n" for r in rows_), encoding="utf-8")


@FAST
@given(st.lists(rows, min_size=1, max_size=6), st.booleans())
def test_the_c_reader_reads_what_the_python_reader_reads(tmp_path, span_check, examples, ascii_):
    path = tmp_path / "rows.jsonl"
    write(path, examples, ascii_)
    read, expected = read_frames(path, format="messages"), read_frames(examples, format="messages")
    assert_same(read, expected)
    assert expected.reasoning is None and read.reasoning == (reasoning_replies(expected.messages) > 0)


@pytest.mark.parametrize(("content", "reasoning", "role", "counted"), [
    ("<think>a</think>b", None, "assistant", 1), ("<\\/think>", None, "assistant", 1),
    ("\\u003c/think\\u003e", None, "assistant", 1), ("</think>", None, "user", 0), ("<think>", None, "assistant", 0),
    ("ok", "why", "assistant", 1), ("ok", None, "assistant", 0), ("</thin", None, "assistant", 0)])
def test_the_c_reader_counts_the_replies_that_reason_as_polars_does(content, reasoning, role, counted):
    """Stats skips the reasoning section on the C reader's count: a reasoning field, or `</think>`
    in a reply however JSON spells it."""
    extra = "" if reasoning is None else f', "reasoning_content": "{reasoning}"'
    line = (f'{{"messages": [{{"role": "user", "content": "q"}}, {{"role": "{role}", "content": "{content}"{extra}}}]}}'
            .encode())
    assert _rowscan.read_messages(line, b"messages", b"role", b"content", None, True)[15] == counted
    assert reasoning_replies(read_frames([json.loads(line)], format="messages").messages) == counted


@FAST
@given(conversations(), st.booleans())
def test_the_c_reader_maps_sharegpt_roles(tmp_path, messages, ascii_):
    names = {"user": "human", "assistant": "gpt", "system": "system"}
    row = {"conversations": [{"from": names[m["role"]], "value": m["content"]} for m in messages]}
    path = tmp_path / "rows.jsonl"
    write(path, [row, {"conversations": [{"from": "function_call", "value": '{"name": "f"}'}]}], ascii_)
    assert_same(read_frames(path), read_frames([row, json.loads(path.read_text().splitlines()[1])]))


def test_lines_the_c_reader_leaves_keep_their_place(tmp_path):
    path = tmp_path / "mixed.jsonl"
    good = {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(good).encode() + b"\n\n   \n"
                     b'{"messages": [{"role": "user", "content": "x"}], "id": 1e400}\n'  # orjson refuses it
                     b"not json\n"
                     b'{"messages": [{"role": "user", "content": "Hi", "content": "twice"}]}\n'
                     b'{"messages": []}\n' + json.dumps(good).encode())
    frames = read_frames(path)
    assert frames.messages["conversation"].to_list() == [0, 0, 3, 5, 5]
    assert frames.messages["content"].to_list() == ["Hi", "Hello", "twice", "Hi", "Hello"]
    assert (frames.skipped, frames.conversations["conversation"].to_list()) == (3, [0, 3, 5])
    s = stats(path).summary
    assert (s["rows"], s["skipped_rows"], s["duplicates"]) == (3, 3, {"exact": 1, "normalised": 1})


def test_unicode_case_and_whitespace_fold_like_python(tmp_path):
    rows_ = [{"messages": [{"role": "user", "content": c}, {"role": "assistant", "content": "Ok"}]}
             for c in ("ÉTÉ\u3000à  Paris", "été à paris", "ete a paris")]
    path = tmp_path / "u.jsonl"
    write(path, rows_, ascii_=False)
    table = read_frames(path).conversations
    assert table["folded"].to_list()[0] == table["folded"].to_list()[1] != table["folded"].to_list()[2]
    assert table["exact"].to_list()[0] == hash_conversation(["user", "assistant"], ["ÉTÉ\u3000à  Paris", "Ok"])[0]
    assert stats(path).summary["duplicates"] == {"exact": 0, "normalised": 1}


@pytest.mark.parametrize("case", [str.lower, str.upper], ids=["lower-hex", "upper-hex"])
def test_every_escaped_character_of_the_bmp_is_decoded_as_json_decodes_it(tmp_path, case):
    """Every code point U+0000-U+FFFF but the surrogates, and every astral plane's first and last,
    written as `\\uXXXX` (json.dumps' default; hex digits in either case) in runs of 1-7, after a
    letter or not, spaced or not: the C reader's content and lengths are json's."""
    points = [chr(p) for p in range(0x10000) if not 0xD800 <= p <= 0xDFFF]
    points += [chr(p) for plane in range(1, 17) for p in (plane << 16, plane << 16 | 0xFFFF)]
    texts, at = [], 0
    while at < len(points):
        run = 1 + len(texts) % 7
        texts.append(("" if len(texts) % 3 else "x") + ("", " ")[len(texts) % 2].join(points[at:at + run]))
        at += run
    lines = []
    for start in range(0, len(texts), 64):
        row = {"messages": [{"role": "user" if n % 2 == 0 else "assistant", "content": t}
                            for n, t in enumerate(texts[start:start + 64])]}
        lines.append(re.sub(r"\\u[0-9a-f]{4}", lambda m: case(m.group()[2:]).join(["\\u", ""]), json.dumps(row)))
    path = tmp_path / "bmp.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="ascii")
    frame = read_frames(path).messages
    assert frame["content"].to_list() == texts
    assert frame["chars"].to_list() == [len(t) for t in texts]


def test_keys_are_the_keys_they_spell(tmp_path):
    """Keys escaped are the keys they spell; keys that only begin like them are other keys."""
    lines = [b'{"messages": [{"r\\u006fle": "user", "c\\u006fntent": "Hi"}, '
             b'{"content": "ok", "\\u0072ole": "assistant"}]}',
             b'{"messages": [{"roles": "x", "role": "user", "content": "Hi"}, {"contents": 1, "role": "assistant", '
             b'"conte": 2, "content": "ok"}]}']
    path = tmp_path / "keys.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    assert_same(read_frames(path, format="messages"), read_frames([json.loads(x) for x in lines], format="messages"))
    assert read_frames(path, format="messages").messages["content"].to_list() == ["Hi", "ok", "Hi", "ok"]
    for line in lines:  # read in C, none left to Python
        assert len(_rowscan.read_messages(line, b"messages", b"role", b"content", None, True)[12]) == 0


def test_text_stays_in_the_files_bytes(tmp_path):
    long = "a reply long enough not to be stored inline " * 3
    path = tmp_path / "v.jsonl"
    write(path, [{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": long}]}], True)
    frame = read_frames(path).messages
    assert frame.schema["content"] == pl.String and frame["content"].to_list() == ["Hi", long]
    assert frame["chars"].to_list() == [2, len(long)]


@FAST
@given(st.lists(st.tuples(rows, st.integers(0, 10_000), st.binary(max_size=3), st.integers(0, 3)), min_size=1,
                max_size=4))
def test_the_c_reader_reads_corrupted_lines_as_python_does(tmp_path, span_check, examples):
    lines = []
    for row, at, insert, cut in examples:
        line = json.dumps(row).encode()
        at %= len(line) + 1
        lines.append((line[:at] + insert + line[at + cut:]).replace(b"\n", b" "))
    path = tmp_path / "broken.jsonl"
    path.write_bytes(b"\n".join(lines) + b"\n")
    fmt = get_format("messages")
    messages, skipped = _python_frame(enumerate(read_records(path)), fmt)
    frames = read_frames(path, format="messages")
    assert frames.messages.drop("chars").equals(messages)
    assert frames.skipped == skipped


maybe_text = st.one_of(st.none(), unicode_text)


@FAST
@given(st.lists(st.tuples(maybe_text, maybe_text), min_size=1, max_size=5),
       st.lists(st.one_of(st.none(), st.lists(st.tuples(st.sampled_from(["user", "assistant", None]), maybe_text),
                                              max_size=3)), min_size=1, max_size=5))
def test_the_parquet_reader_reads_what_the_python_reader_reads(tmp_path, pairs, conversations_):
    """Nulls included: a row with a null text is skipped by both, as validate rejects it."""
    qa = pl.DataFrame({"question": [q for q, _ in pairs], "answer": [a for _, a in pairs]},
                      schema={"question": pl.String, "answer": pl.String})
    qa.write_parquet(tmp_path / "qa.parquet")
    assert_same(read_frames(tmp_path / "qa.parquet", format="qa"), read_frames(qa.to_dicts(), format="qa"))
    text = qa.select(text=pl.col("question"))
    text.write_parquet(tmp_path / "text.parquet")
    assert_same(read_frames(tmp_path / "text.parquet", format="text"), read_frames(text.to_dicts(), format="text"))
    messages = pl.DataFrame(
        {"messages": [None if c is None else [{"role": r, "content": t} for r, t in c] for c in conversations_]},
        schema={"messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String}))})
    messages.write_parquet(tmp_path / "messages.parquet")
    assert_same(read_frames(tmp_path / "messages.parquet", format="messages"),
                read_frames(messages.to_dicts(), format="messages"))
    thinking = pl.DataFrame(  # a reasoning field in the struct: read as the other readers read it
        {"messages": [None if c is None else [{"role": r, "content": t, "thinking": t and t[::-1]} for r, t in c]
                      for c in conversations_]},
        schema={"messages": pl.List(pl.Struct({"role": pl.String, "content": pl.String, "thinking": pl.String}))})
    thinking.write_parquet(tmp_path / "thinking.parquet")
    assert_same(read_frames(tmp_path / "thinking.parquet", format="messages"),
                read_frames(thinking.to_dicts(), format="messages"))


def test_values_that_are_not_strings_are_skipped_as_validate_rejects_them_never_converted(tmp_path):
    path = tmp_path / "qa.jsonl"
    path.write_text('{"question": "What is 2+2?", "answer": "4"}\n{"question": 7, "answer": "seven"}\n'
                    '{"question": null, "answer": "x"}\n{"question": "\\ud800", "answer": "y"}\n'
                    '{"question": "ok", "answer": "fine"}\n', encoding="utf-8")
    frames = read_frames(path, format="qa")
    assert frames.messages["content"].to_list() == ["What is 2+2?", "4", "ok", "fine"]
    assert frames.skipped == 3 == validate(path, format="qa").invalid
    numbers = tmp_path / "numbers.parquet"
    pl.DataFrame({"question": ["a", "b"], "answer": [1, None]}).write_parquet(numbers)  # an integer column
    frames = read_frames(numbers, format="qa")
    assert (frames.messages.height, frames.skipped) == (0, 2)


def test_stats_of_a_text_column_that_is_not_there_skips_every_row(cli, gsm8k):
    result = cli("stats", gsm8k, "--format", "text", "--column", "nope", "--json", "-")
    assert result.code == 0 and (result.json()["rows"], result.json()["skipped_rows"]) == (0, 1319)


def test_the_c_reader_starts_before_polars_is_imported(tmp_path):
    """`stats` starts the C reader's threads (validation.statistics.parts) before it imports Polars,
    numpy and pyarrow, which then load while the threads read (0.2-0.3 s of a fresh process)."""
    import subprocess
    import sys

    path = tmp_path / "rows.jsonl"
    write(path, [{"messages": [{"role": "user", "content": "안녕"}, {"role": "assistant", "content": "hi"}]}], False)
    code = """if True:
        import sys
        import validation.cli, validation.statistics.conversations
        from validation.readers.source import open_dataset
        from validation.statistics.parts import Parts, c_readable
        with open_dataset(sys.argv[1]) as data, Parts(data) as parts:
            assert c_readable(data)
            found = [part[0] for _, part in parts.results()]  # records per part
        print(found, sorted(name for name in ("polars", "numpy", "pyarrow") if name in sys.modules))
    """
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split("\n")[0] == "[1] []"

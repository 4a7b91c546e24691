"""The raw-line fast path (`validation._rowscan`) against the path it stands in for.

The prover may refuse any row (it then goes through orjson and the precise checks), but a row it
clears must be one those checks find clean, with the same duplicate hashes and length. The
strongest form of that is checked directly: `check_lines` gives the same issues, invalid rows
and hashes with and without the prover, on well-formed, wild and corrupted lines.
"""

from __future__ import annotations

import importlib.util
import json
import platform
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import PART_RULES, conversations, in_layout, metadata, pair_rows, wild_row, with_parts
from validation import _rowscan, get_format, validate
from validation.checks.prover import Prover, fold, hash_conversation
from validation.checks.rules import CHATML, TemplateRules
from validation.checks.scan import PAIR_SHAPE, Scanner
from validation.statistics.frames import CONVERSATION_DTYPE

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
MESSAGES = get_format("messages")
SHAREGPT = get_format("sharegpt")
PREFERENCE = get_format("preference")
NO_SYSTEM = TemplateRules(name="no-system", special_tokens=("<s>", "[INST]"), roles=frozenset({"user", "assistant"}))


def outcome(lines: list[bytes], *, fast: bool, fmt=MESSAGES, rules=None, max_length=None):
    """(issues, invalid rows, hashes by row) of `check_lines`, with or without the prover."""
    scanner = Scanner(fmt, rules=rules, max_length=max_length)
    if not fast:
        scanner.prover = None
    issues, invalid = scanner.check_lines(list(enumerate(lines, start=1)))
    hashes = {row: (e, f) for row, e, f in zip(*scanner.duplicates.take())}
    return sorted((i.row, i.path, i.code, i.message) for i in issues), sorted(invalid), hashes


def assert_same(lines: list[bytes], **options) -> None:
    assert outcome(lines, fast=True, **options) == outcome(lines, fast=False, **options)


def serialise(row: dict, style: int) -> bytes:
    """Four spellings of one row: compact, spaced with tabs and CRLF, ASCII-escaped, raw UTF-8."""
    if style == 0:
        return json.dumps(row, separators=(",", ":"), ensure_ascii=False).encode()
    if style == 1:
        return json.dumps(row, separators=(" ,\t", " : "), ensure_ascii=False).encode() + b" \r\n"
    if style == 2:
        return json.dumps(row).encode() + b"\n"
    return json.dumps(row, ensure_ascii=False).encode() + b"\n"


def to_sharegpt(row: dict) -> dict:
    names = {"user": "human", "assistant": "gpt"}
    return {"conversations": [{"from": names.get(m["role"], m["role"]), "value": m["content"]}
                              for m in row["messages"]]}


rows = st.one_of(wild_row, st.builds(lambda ms, meta: {**meta, "messages": ms}, conversations(), metadata))


@FAST
@given(st.lists(st.tuples(rows, st.integers(0, 3)), min_size=1, max_size=5),
       st.sampled_from([None, CHATML, NO_SYSTEM]), st.sampled_from([None, 40]))
def test_prover_changes_nothing_on_any_row(examples, rules, max_length):
    lines = [serialise(row, style) for row, style in examples]
    assert_same(lines, rules=rules, max_length=max_length)


@FAST
@given(st.lists(st.tuples(conversations().flatmap(with_parts), st.integers(0, 3)), min_size=1, max_size=4),
       st.sampled_from([None, CHATML, PART_RULES]), st.sampled_from([None, 40]))
def test_prover_changes_nothing_on_rows_of_content_parts(examples, rules, max_length):
    assert_same([serialise(row, style) for row, style in examples], rules=rules, max_length=max_length)


def test_prover_clears_text_parts_as_the_text_they_join_to():
    row = {"messages": [{"role": "user", "content": [{"type": "text", "text": "Hi "}, {"text": "été", "type": "text"}]},
                        {"role": "assistant", "content": "Hello"}]}
    line = json.dumps(row).encode()
    cleared = Prover(MESSAGES.raw, parts=("user", "assistant")).prove([line])[0]
    assert cleared == (*hash_conversation(["user", "assistant"], ["Hi été", "Hello"]), 11)
    assert Prover(MESSAGES.raw).prove([line]) == [None]  # (a template that takes no parts: Python decides)
    assert Prover(MESSAGES.raw, parts=("assistant",)).prove([line]) == [None]


@FAST
@given(conversations(), st.integers(0, 3))
def test_prover_changes_nothing_on_sharegpt_rows(messages, style):
    assert_same([serialise(to_sharegpt({"messages": messages}), style)], fmt=SHAREGPT, rules=CHATML)


@FAST
@given(st.tuples(rows, st.integers(0, 3)), st.integers(0, 10_000), st.binary(min_size=0, max_size=3),
       st.integers(0, 3))
def test_prover_changes_nothing_on_corrupted_lines(example, at, insert, cut):
    line = serialise(*example)
    at %= len(line) + 1
    assert_same([line[:at] + insert + line[at + cut:]], rules=CHATML)


@FAST
@given(st.lists(st.tuples(pair_rows(), st.integers(0, 3)), min_size=1, max_size=4),
       st.sampled_from(["preference", "preference-implicit", "hh-text"]),
       st.sampled_from([None, CHATML, NO_SYSTEM]), st.integers(0, 10_000), st.binary(max_size=2))
def test_prover_changes_nothing_on_preference_pairs(examples, name, rules, at, insert):
    """Pairs in each paired layout (strings or message lists, key orders, broken the ways real data is,
    replies that begin alike, one line corrupted) get the same issues, invalid rows and duplicate hashes
    with the C prover as with `fast_pair` and `check_pair` alone."""
    rows = [(in_layout(row, name), style) for row, style in examples]
    lines = [serialise(dict(reversed(row.items())) if style == 1 else row, style) for row, style in rows]
    at %= len(lines[0]) + 1
    lines.append(lines[0][:at] + insert + lines[0][at:])
    assert_same(lines, fmt=get_format(name), rules=rules, max_length=40)


PAIRS_CLEARED = [  # (format, line, the text both replies begin with)
    ("preference", b'{"prompt": "Hi", "chosen": "Hello!", "rejected": "Go away."}', None),
    ("preference", b'{"rejected": [{"content": "No \\u00e9", "role": "assistant"}], "id": [1, {"a": null}], "chosen": '
     b'[{"role": "assistant", "content": "Yes \xed\x95\x9c"}], "prompt": [{"role": "system", "content": "Be brief."}, '
     b'{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}, {"role": "user", "content": "Q2"}]}',
     None),
    ("preference-implicit", b'{"score": 3, "chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", '
     b'"content": "Yes"}], "rejected": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "No"}]}',
     None),
    ("hh-text", b'{"chosen": "\\n\\nHuman: Q\\n\\n\\nAssistant: A\\n\\nHuman: ?\\n\\nAssistant: Sure.", '
     b'"rejected": "\\n\\nHuman: Q\\n\\n\\nAssistant: A\\n\\nHuman: ?\\n\\nAssistant: No."}', None),
    ("hh-text", b'{"chosen": "\\n\\nHuman: Q\\n\\nAssistant: \xed\x95\x9c\xea\xb8\x80 yes", '
     b'"rejected": "\\n\\nHuman: Q\\n\\nAssistant: \xed\x95\x9c\xea\xb0\x80"}', "\ud55c"),  # 글 / 가: one byte alike
]
PAIRS_REFUSED = [
    ("preference", b'{"prompt": "Hi", "chosen": "Hello!", "rejected": "hello! "}'),  # near-identical-pair
    ("preference", b'{"prompt": "Hi", "chosen": "Hello!", "rejected": "Hello!"}'),  # identical-pair
    ("preference", b'{"prompt": "Hi", "chosen": [{"role": "assistant", "content": "A"}], "rejected": '
     b'[{"role": "assistant", "content": "B"}]}'),  # mixed forms (wrong-type)
    ("preference", b'{"prompt": [{"role": "user", "content": "Q"}], "chosen": [{"role": "user", "content": "A"}], '
     b'"rejected": [{"role": "assistant", "content": "B"}]}'),  # completion-not-assistant
    ("preference", b'{"prompt": "Hi", "chosen": "Hello!", "rejected": "Go", "rejected": "Went"}'),  # a key twice
    ("preference", b'{"prompt": "Hi", "chosen": "Hello!"}'),  # missing-field
    ("preference-implicit", b'{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}], '
     b'"rejected": [{"role": "user", "content": "P"}, {"role": "assistant", "content": "B"}]}'),  # no-shared-prompt
    ("preference-implicit", b'{"chosen": [{"role": "user", "content": "Q"}, {"role": "assistant", "content": "A"}],'
     b' "rejected": [{"role": "user", "content": "Q"}]}'),  # empty-completion
    ("hh-text", b'{"chosen": "Human: Q\\n\\nAssistant: A", "rejected": "\\n\\nHuman: Q\\n\\nAssistant: B"}'),
    ("hh-text", b'{"chosen": "\\n\\nHuman: Q\\n\\nAssistant: ", "rejected": "\\n\\nHuman: Q\\n\\nAssistant: B"}'),
]


@pytest.mark.parametrize("name", ["preference", "preference-implicit", "hh-text"])
def test_the_pair_prover_clears_clean_pairs_with_the_hashes_of_their_duplicate_text(name):
    from validation.checks.pairs import check_pair
    from validation.checks.prover import fingerprints

    prover = Prover(PAIR_SHAPE, pairs=name)
    cleared = [(line, shared) for fmt, line, shared in PAIRS_CLEARED if fmt == name]
    refused = [line for fmt, line in PAIRS_REFUSED if fmt == name]
    for line, shared in cleared:
        exact, folded, _, found = prover.prove([line])[0]
        issues, text, _ = check_pair(name, orjson.loads(line), 1)
        assert [i.code for i in issues] == (["reply-shares-start"] if shared else [])
        assert (fingerprints([text]), found) == (([exact], [folded]), shared)
    assert prover.prove(refused) == [None] * len(refused)
    assert_same([line for line, _ in cleared] + refused, fmt=get_format(name), rules=CHATML)


@FAST
@given(st.lists(st.tuples(st.one_of(rows, pair_rows().map(lambda row: in_layout(row, "hh-text"))), st.integers(0, 3),
                          st.sampled_from([b"", b"\n", b"  \t\r\n"])), min_size=1, max_size=6),
       st.booleans(), st.booleans(), st.sampled_from([None, 40]), st.sampled_from(["messages", "hh-text"]))
def test_a_block_is_checked_as_its_lines(examples, bom, trailing_newline, max_length, name):
    """`check_block` (the C prover splitting a block) finds what `check_lines` finds line by line:
    blank lines are not records but count as rows, a BOM opens only the first line, CRLF ends,
    a last line without a newline."""
    raw = []
    for row, style, blank in examples:
        line = serialise(row, style)
        raw += [line if line.endswith(b"\n") else line + b"\n"] + ([blank] if blank else [])
    raw[-1] = raw[-1] if trailing_newline else raw[-1][:-1]
    raw = [line for line in raw if line]
    block = (b"\xef\xbb\xbf" if bom else b"") + b"".join(raw)
    records = [(n, line) for n, line in enumerate(raw, start=101) if line and not line.isspace()]
    for fast in (True, False):
        expected = Scanner(get_format(name), rules=CHATML, max_length=max_length)
        if not fast:
            expected.prover = None
        issues, invalid = expected.check_lines(records)
        scanner = Scanner(get_format(name), rules=CHATML, max_length=max_length)
        if not fast:
            scanner.prover = None
        lines, count, found, bad = scanner.check_block(block, 100, first=True)
        assert (lines, count) == (len(raw), len(records))
        assert sorted(i.model_dump_json() for i in found) == sorted(i.model_dump_json() for i in issues)
        assert bad == invalid and scanner.duplicates.take() == expected.duplicates.take()


@FAST
@given(st.binary(max_size=120))
def test_prover_never_raises_on_arbitrary_bytes(raw):
    assert_same([raw])


CLEARED = [
    b'{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello"}]}',
    # content before role, escapes, a surrogate pair, raw UTF-8, metadata of every JSON type
    b'{"id": -1.5e10, "tags": [true, false, null, {"a": [1, "x"]}], "messages": ['
    b'{"content": "Tab\\there \\"q\\" \\\\ \\/ \\u00e9 \\ud83d\\ude00", "role": "user"},'
    b'{"role": "assistant", "content": "d\xc3\xa9j\xc3\xa0 vu \xe6\x97\xa5\xe6\x9c\xac"}]}\r\n',
    b'{"messages":[{"role":"system","content":"Be brief."},{"role":"user","content":"Q"},'
    b'{"role":"assistant","content":"A"},{"role":"user","content":"Q2"},{"role":"assistant","content":"A2"}]}',
]


@pytest.mark.parametrize("line", CLEARED)
def test_prover_clears_clean_rows_without_decoding_them(line):
    result = Prover(MESSAGES.raw).prove([line])[0]
    assert result is not None
    messages = orjson.loads(line)["messages"]
    assert result[2] == sum(len(m["content"]) for m in messages)
    assert_same([line], rules=CHATML, max_length=10)


ESCAPED = [  # \uXXXX escapes as json.dumps writes them: runs of them, ASCII between, every UTF-8 length
    r"\uc548\ub155 \ud558\uc138\uc694, \uc138\uacc4!", r"a\u00e9b\u00E9", r"\u4e2d,\u6587.\u0800\u07ff\uffff",
    r"x \ud83d\ude00 \ud83d\ude00y", r"\u0041\u0042 \u0020\u0031", r"\ue000\ud7ff\u00a0z", r"\uAC00\\\uac00",
    r"\uac00\"\uac00\n\uac00\t", r"\uac00\u",
]
BAD_ESCAPES = [r"\uac0g", r"\ud800 x", r"\udc00\uac00", r"x \udfff", r"\uac0", r"\ud83d\u0041", r"\uac00\uD83D"]


@pytest.mark.parametrize("text", ESCAPED + BAD_ESCAPES)
def test_escaped_text_is_decoded_as_json_decodes_it_on_every_c_path(text):
    line = b'{"messages": [{"role": "user", "content": "' + text.encode() + b'"}, {"role": "assistant", ' \
           b'"content": "ok"}]}'
    proven = Prover(MESSAGES.raw).prove([line])[0]
    read = _rowscan.read_messages(line, b"messages", b"role", b"content", None, True)
    try:
        content = json.loads(line)["messages"][0]["content"]
        content.encode()
    except (ValueError, UnicodeEncodeError):  # invalid JSON, or a lone surrogate: the precise path says so
        assert proven is None and len(read[12]) == 24  # one row deferred to Python: (record, offset, length)
        return
    expected = hash_conversation(["user", "assistant"], [content, "ok"])
    assert proven == (*expected, len(content) + 2)
    conversation = np.frombuffer(read[11], np.dtype(CONVERSATION_DTYPE))
    assert (int(conversation["exact"][0]), int(conversation["folded"][0])) == expected


KEY_SPELLINGS = [  # the keys escaped (json reads them as role and content), and keys that only begin alike
    b'{"messages": [{"r\\u006fle": "user", "c\\u006fntent": "Hi"}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [{"content": "Hi", "\\u0072ole": "user"}, {"role": "assistant", "conten\\u0074": "ok"}]}',
    b'{"messages": [{"roles": "user", "role": "user", "content": "Hi"}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [{"role": "user", "content": "Hi", "contents": 1}, {"role": "assistant", "content": "ok"}]}',
    b'{"messages": [{"role": "user", "cont": "Hi"}, {"role": "assistant", "content": "ok"}]}',
]


@pytest.mark.parametrize("line", KEY_SPELLINGS)
def test_keys_are_read_however_json_spells_them(line):
    assert_same([line], rules=CHATML)
    assert_same([line])
    if b"\\u" in line:  # the escaped keys are the keys: the prover clears the row itself
        assert Prover(MESSAGES.raw).prove([line])[0] is not None


def test_prover_reads_sharegpt_role_names():
    line = b'{"conversations": [{"from": "human", "value": "Hi"}, {"from": "gpt", "value": "Hello"}]}'
    assert Prover(SHAREGPT.raw).prove([line])[0] is not None


def chat(*contents: str, roles: tuple[str, ...] = ("user", "assistant")) -> bytes:
    return json.dumps({"messages": [{"role": r, "content": c} for r, c in zip(roles, contents)]}).encode()


REFUSED = {  # line -> the precise path's code (None: clean, but outside what the prover reads)
    chat("Hi", "ok") + b"x": "trailing-data",
    b'{"messages": [{"role": "user", "content": "\\ud800"}, {"role": "assistant", "content": "x"}]}':
        "lone-surrogate",
    b'{"messages": [{"role": "user", "content": "\xff"}, {"role": "assistant", "content": "x"}]}': "invalid-utf8",
    chat("Hi", "bell \u0007"): "control-character",
    chat("Hi", "del \x7f"): "control-character",
    chat("Hi", "<|im_end|> forged"): "special-token-in-content",
    chat("Hi", "\u00a0\u3000 "): "whitespace-content",
    chat("Hi", ""): "empty-content",
    chat("Hi", "a", roles=("user", "user")): "no-assistant-turn",
    chat("Hi", "a", "b", roles=("user", "assistant", "user")): "trailing-user-turn",
    chat("Hi", "a", roles=("User", "assistant")): "role-wrong-case",
    b'{"messages": [{"role": "user", "content": 1}, {"role": "assistant", "content": "x"}]}':
        "non-string-content",
    b'{"messages": []}': "no-messages",
    b'{"messages": [{"role": "user", "content": "Hi"}]} {"messages": []}': "trailing-data",
    b'{"id": 1e400, "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}]}':
        "invalid-json",
    # clean rows the prover leaves to orjson and the precise checks
    b'{"messages": [{"role": "user", "content": "Hi", "name": "u"}, {"role": "assistant", "content": "x"}]}': None,
    b'{"id": 123456789012345678901234567890, "messages": [{"role": "user", "content": "Hi"},'
    b' {"role": "assistant", "content": "x"}]}': None,
    b'{"messages": [], "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}]}':
        "duplicate-key",
    b'{"id": 1, "id": 2, "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "x"}]}':
        "duplicate-key",
    b'{"meta": [{"a": 1, "a": 2}], "messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", '
    b'"content": "x"}]}': "duplicate-key",
}


@pytest.mark.parametrize("line", list(REFUSED))
def test_prover_refuses_rows_it_cannot_prove_clean(line):
    assert Prover(MESSAGES.raw, special_tokens=CHATML.special_tokens).prove([line]) == [None]
    issues, _, _ = outcome([line], fast=False, rules=CHATML)
    assert [code for _, _, code, _ in issues][:1] == ([REFUSED[line]] if REFUSED[line] else [])


@pytest.mark.parametrize("text", ["\u3042", "안녕하세요, 세계!", "مرحبا بالعالم", "Ωmega ΣΟΦΙΑ", "😀 👍🏽 🇰🇷",
                                  "İstanbul\u3000ＡＢＣ", "\u00a0x\u2028"])
def test_prover_clears_clean_rows_in_every_script_with_the_hashes_of_the_precise_path(text):
    messages = {"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]}
    for line in (chat(text, "ok"), json.dumps(messages, ensure_ascii=False).encode()):  # \\uXXXX escapes, UTF-8
        [proven] = Prover(MESSAGES.raw).prove([line])
        assert proven == (*hash_conversation(["user", "assistant"], [text, "ok"]), len(text) + 2)


def test_prover_leaves_a_system_prompt_to_templates_without_a_system_role():
    line = chat("Be brief.", "Hi", "ok", roles=("system", "user", "assistant"))
    assert Prover(MESSAGES.raw, roles=NO_SYSTEM.roles).prove([line]) == [None]
    assert Prover(MESSAGES.raw).prove([line])[0] is not None
    issues, _, _ = outcome([line], fast=False, rules=NO_SYSTEM)
    assert [(path, code) for _, path, code, _ in issues] == [("messages[0].role", "role-not-supported")]


@FAST
@given(st.lists(st.text(alphabet=st.sampled_from("aZ \t\n\r\x0b\x0c\x1c\x1d\x1e\x1f\u00a0\u00c9\u0130\u03a3."),
                        max_size=30), min_size=1, max_size=3))
def test_the_folded_hash_is_the_exact_hash_of_pythons_fold(contents):
    roles = ["user"] * len(contents)
    assert hash_conversation(roles, contents)[1] == hash_conversation(roles, [fold(c) for c in contents])[0]


def test_duplicates_are_found_across_the_fast_and_the_precise_path(tmp_path):
    same = [{"role": "user", "content": "What is 2+2?"}, {"role": "assistant", "content": "4"}]
    named = [{**same[0], "name": "sam"}, same[1]]  # an extra field: the prover leaves it to Python
    folded = [{"role": "user", "content": "what  is 2+2? "}, same[1]]
    path = tmp_path / "d.jsonl"
    path.write_text("".join(json.dumps({"messages": m}) + "\n" for m in (same, named, folded)))
    assert Prover(MESSAGES.raw).prove(path.read_bytes().splitlines()) != [None] * 3
    report = validate(path)
    assert [(i.row, i.code, i.message) for i in report.issues] == [
        (2, "duplicate", "same as row 1"),
        (3, "near-duplicate", "same as row 1 after case and whitespace folding")]


def test_write_clean_from_jsonl_to_parquet_keeps_every_value(tmp_path):
    import pyarrow.parquet as pq

    path = tmp_path / "d.jsonl"
    path.write_bytes(chat("Hi", "ok")[:-1] + b', "id": 12345678901234567}\n' + chat("Hi", "") + b"\n")
    report = validate(path, write_clean=tmp_path / "clean.parquet")
    assert (report.valid, report.invalid) == (1, 1)
    assert pq.read_table(tmp_path / "clean.parquet").to_pylist() == [
        {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "ok"}],
         "id": 12345678901234567}]


VALID_SEQUENCES = ["\u0080", "\u07ff", "\u0800", "\ud7ff", "\ue000", "\uffff", "한", "\U00010000", "\U0010ffff"]
INVALID_SEQUENCES = [b"\xc0\x80", b"\xc1\xbf", b"\xe0\x80\x80", b"\xe0\x9f\xbf", b"\xed\xa0\x80", b"\xed\xbf\xbf",
                     b"\x80", b"\xbf", b"\xe3\x81", b"\xe3\x81A", b"\xc2", b"\xf5\x80\x80\x80", b"\xf0\x80\x80\x80",
                     b"\xf4\x90\x80\x80", b"\xff", b"\xe3\xe3\x81\x81"]


@pytest.mark.parametrize("at", range(0, 34, 3))
def test_prover_reads_utf8_at_every_offset_of_its_16_byte_blocks(at):
    base = "가나다라마바사 아자차카타파하 " * 3  # long enough for the 16-byte blocks
    for seq in VALID_SEQUENCES:
        text = base[:at] + seq + base[at:]
        line = json.dumps({"messages": [{"role": "user", "content": text}, {"role": "assistant", "content": "ok"}]},
                          ensure_ascii=False).encode()
        assert Prover(MESSAGES.raw).prove([line]) == [(*hash_conversation(["user", "assistant"], [text, "ok"]),
                                                       len(text) + 2)], seq
    for seq in INVALID_SEQUENCES:
        raw = base.encode()
        cut = len(base[:at].encode())
        line = (b'{"messages": [{"role": "user", "content": "' + raw[:cut] + seq + raw[cut:]
                + b'"}, {"role": "assistant", "content": "ok"}]}')
        assert Prover(MESSAGES.raw).prove([line]) == [None], seq
        issues, _, _ = outcome([line], fast=False)
        assert [code for _, _, code, _ in issues] == ["invalid-utf8"], seq


def _is_utf8(data: bytes) -> bool:
    try:
        data.decode("utf-8")  # strict: no surrogates, no overlong forms, nothing past U+10FFFF
    except UnicodeDecodeError:
        return False
    return True


needs_span_check = pytest.mark.skipif(_rowscan.utf8_valid(b"") is None, reason="this CPU has no SSSE3")


@needs_span_check
@pytest.mark.parametrize("at", range(0, 50))
def test_the_span_check_of_utf8_flags_every_bad_sequence_at_every_offset(at):
    """read_messages checks UTF-8 64 KiB of lines at a time: every sequence utf8_len refuses, at
    every offset of the 16-byte blocks and their carries, and every cut of a valid text."""
    base = ("가나다라 abc 😀 ü " * 4).encode()
    for seq in INVALID_SEQUENCES:
        data = base[:at] + seq + base[at:]
        assert _rowscan.utf8_valid(data) is _is_utf8(data), (at, seq)
    for seq in VALID_SEQUENCES:
        data = base[:at] + seq.encode() + base[at:]
        assert _rowscan.utf8_valid(data) is _is_utf8(data), (at, seq)
    assert _rowscan.utf8_valid(base[:at]) is _is_utf8(base[:at])


@needs_span_check
@settings(max_examples=1000, deadline=None)
@given(st.lists(st.one_of(st.text().map(lambda t: t.encode("utf-8", "surrogatepass")), st.binary(max_size=4),
                          st.sampled_from(INVALID_SEQUENCES)), max_size=12).map(b"".join))
def test_the_span_check_of_utf8_agrees_with_python_on_any_bytes(data):
    assert _rowscan.utf8_valid(data) is _is_utf8(data)


# A text of each storage width CPython picks (Latin-1, UCS-2, UCS-4), long enough for the SIMD blocks.
WIDTHS = {"latin-1": "naïve café \x80\x9f ", "ucs-2": "가나다 \u8000\u801f\uffff ", "ucs-4": "hi 😀 \U0010ffff "}


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("at", range(0, 40, 3))
@pytest.mark.parametrize("char", [chr(c) for c in [*range(0x20), 0x7f]] + ["\x80", "\x9f", " ", "\u2028"])
def test_has_control_char_finds_what_the_regex_finds_at_every_offset(width, at, char):
    from validation._rowscan import has_control_char
    from validation.checks.messages import CONTROL

    base = WIDTHS[width] * 3
    text = base[:at] + char + base[at:]
    assert has_control_char(text) is (CONTROL.search(text) is not None)
    assert has_control_char(base) is False


@FAST
@given(st.text())
def test_has_control_char_agrees_with_the_regexes_on_any_text(text):
    from validation._rowscan import has_control_char
    from validation.checks.messages import BIDI, CONTROL

    # a control character or a bidirectional control (U+202A-U+202E, U+2066-U+2069), as its docstring says
    assert has_control_char(text) is (CONTROL.search(text) is not None or BIDI.search(text) is not None)


@pytest.mark.parametrize("text", ["\u202a", "a\u202eb", "\u2066", "x" * 40 + "\u2069", "\u2029", "\u202f", "\u2065"])
def test_has_control_char_finds_bidirectional_controls_and_only_them(text):
    from validation._rowscan import has_control_char

    assert has_control_char(text) is any(0x202A <= ord(c) <= 0x202E or 0x2066 <= ord(c) <= 0x2069 for c in text)


CUT_LINES = [  # every C reader, on every prefix of rows whose text is escaped (a write cut short)
    ("messages", chat("안녕 😀 é", "세계")),
    ("preference", json.dumps({"prompt": [{"role": "user", "content": "안녕"}],
                               "chosen": [{"role": "assistant", "content": "😀 세계"}],
                               "rejected": [{"role": "assistant", "content": "é"}]}).encode()),
    ("hh-text", json.dumps({"chosen": "\n\nHuman: 안녕\n\nAssistant: 😀", "rejected": "\n\nHuman: 안녕\n\nAssistant: é"}
                           ).encode()),
]


def test_every_c_reader_refuses_a_row_cut_anywhere_and_returns():
    """A row cut at any byte (inside a `\\uXXXX` escape too) is refused by the provers and left to
    Python by the stats reader, alone or with a newline after it; the whole row is cleared. In a
    child process with a time limit: these readers once spun forever on a cut escape."""
    code = """if True:
        import json, sys
        from validation import _rowscan, get_format
        from validation.checks.prover import Prover
        from validation.checks.scan import PAIR_SHAPE, Scanner
        for name, line in json.loads(sys.argv[1]):
            line = line.encode()
            fmt = get_format(name)
            prover = Prover(PAIR_SHAPE, pairs=name) if fmt.preference else Prover(fmt.raw)
            for end in range(len(line) + 1):
                for tail in (b"", b"\\n"):
                    cut = line[:end] + tail
                    whole = end == len(line)
                    assert (prover.prove([cut])[0] is not None) == whole, (name, cut)
                    if cut.strip():
                        _, count, issues, invalid = Scanner(fmt).check_block(cut, 0, first=True)
                        assert (count, bool(invalid)) == (1, not whole), (name, cut)
                    if name == "messages":
                        deferred = _rowscan.read_messages(cut, b"messages", b"role", b"content", None, True)[12]
                        assert len(deferred) == (0 if whole or not cut.strip() else 24), cut
        print("ok")
    """
    lines = json.dumps([(name, line.decode()) for name, line in CUT_LINES])
    done = subprocess.run([sys.executable, "-c", code, lines], capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout.strip()) == (0, "ok"), done.stderr


@pytest.mark.skipif(platform.machine() not in ("x86_64", "AMD64"), reason="this machine's own build has no SSE2")
def test_the_c_module_without_sse2_reads_and_folds_as_the_build_does(tmp_path):
    """Machines without SSE2 (ARM) compile only the byte-by-byte paths: built so here, the module
    folds, hashes and reads the same."""
    compiler = shutil.which(sysconfig.get_config_var("CC").split()[0] if sysconfig.get_config_var("CC") else "cc") \
        or shutil.which("cc")
    if compiler is None:
        pytest.skip("no C compiler")
    source = Path(_rowscan.__file__).parent / "_rowscan.c"
    if not source.exists():
        pytest.skip("the C source is not beside the module (an installed wheel)")
    built = tmp_path / ("_rowscan" + sysconfig.get_config_var("EXT_SUFFIX"))
    subprocess.run([compiler, "-O2", "-shared", "-fPIC", "-mno-sse2", "-Werror=implicit-function-declaration",
                    f"-I{sysconfig.get_paths()['include']}", f"-I{source.parent}", str(source), "-o", str(built)],
                   check=True, capture_output=True)
    spec = importlib.util.spec_from_file_location("_rowscan", built)
    plain = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(plain)
    texts = ["Ich  GRÜẞE\u3000ΣΟΦΙΑ\n", "안녕하세요 GPU 세계, " * 5, "ＡＢＣ，ế İstanbul 😀 " * 4, "plain text " * 6]
    assert [plain.fold(t) for t in texts] == [fold(t) for t in texts]
    lines = b"\n".join(json.dumps({"messages": [{"role": "user", "content": t}, {"role": "assistant", "content": t}]},
                                  ensure_ascii=ascii_).encode() for t in texts for ascii_ in (True, False))
    ours, theirs = (m.read_messages(lines, b"messages", b"role", b"content", None, True) for m in (_rowscan, plain))
    assert [bytes(x) if not isinstance(x, int) else x for x in ours] == \
        [bytes(x) if not isinstance(x, int) else x for x in theirs]

"""Column mapping (--map, open_dataset(columns=), a config's `columns:`): a dataset with its own
field names is read as a format, issues name the source's fields, nothing is lost."""

from __future__ import annotations

import csv
import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from validation import InputError, open_dataset, stats, validate
from validation.readers.columns import Columns, suggest

ROWS = [{"input": "What is 2+2?", "output": "4", "id": 1},
        {"input": "Say hi", "output": "", "id": 2},
        {"input": "x", "output": "y", "completion": "z", "id": 3},
        {"input": "안녕하세요?", "output": "네, 안녕하세요! 😊", "id": 4}]
MAP = "input=prompt,output=completion"


@pytest.fixture
def source(tmp_path):
    path = tmp_path / "own.jsonl"
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in ROWS), encoding="utf-8")
    return path


def test_validate_reads_own_columns_and_names_them_in_every_issue(cli, source):
    result = cli("validate", str(source), "--map", MAP, "--json")
    assert result.code == 1
    report = result.json()
    assert (report["format"], report["rows"], report["valid"], report["invalid"]) == ("prompt-completion", 4, 2, 2)
    assert [(i["row"], i["path"], i["code"]) for i in report["issues"]] == [
        (2, "output", "empty-content"), (3, "output", "column-clash")]
    assert report["issues"][1]["message"] == ("--map output=completion: the row already has a field 'completion', "
                                              "which it would overwrite; drop one of the two, or map it elsewhere")


def test_without_the_map_the_error_says_which_map_reads_the_columns(cli, source):
    source.write_text(json.dumps(ROWS[0]) + "\n")
    result = cli("validate", str(source))
    assert result.code == 2
    assert result.err == (f"instructkit validate: error: {source}: cannot tell the format from the first 1 rows "
                          "(fields: id, input, output); --map input=prompt,output=completion reads them as "
                          "prompt-completion\n")


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_write_clean_keeps_the_rows_as_the_source_has_them(cli, tmp_path, source, suffix):
    clean = tmp_path / f"clean{suffix}"
    result = cli("validate", str(source), "--map", MAP, "--write-clean", str(clean))
    assert result.code == 1
    if suffix == ".jsonl":  # the lines themselves, byte for byte
        lines = source.read_bytes().splitlines(keepends=True)
        assert clean.read_bytes() == lines[0] + lines[3]
    else:
        with clean.open(encoding="utf-8", newline="") as f:
            assert [row["input"] for row in csv.DictReader(f)] == ["What is 2+2?", "안녕하세요?"]
        assert clean.read_text(encoding="utf-8").splitlines()[0] == "input,output,id"


def test_fix_reports_its_changes_at_the_sources_fields(cli, tmp_path):
    path = tmp_path / "roles.jsonl"
    path.write_text(json.dumps({"dialog": [{"role": "User", "content": "hi"},
                                           {"role": "assistant", "content": "hello"}]}) + "\n")
    clean = tmp_path / "clean.jsonl"
    result = cli("validate", str(path), "--map", "dialog=messages", "--fix", "--write-clean", str(clean), "--json")
    assert result.code == 0
    assert [(f["row"], f["path"], f["code"]) for f in result.json()["fixes"]] == [(1, "dialog[0].role",
                                                                                   "role-mapped")]
    assert json.loads(clean.read_text()) == {"dialog": [{"role": "user", "content": "hi"},
                                                        {"role": "assistant", "content": "hello"}]}


def test_convert_stats_and_render_read_the_same_mapping(cli, tmp_path, source):
    out = tmp_path / "messages.jsonl"
    result = cli("convert", str(source), "--map", MAP, "--to", "messages", "-o", str(out))
    assert result.code == 1  # row 3's clash is reported; row 2 converts (convert does not judge content)
    written = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [(r["id"], r["messages"][-1]["content"]) for r in written] == [(1, "4"), (2, ""),
                                                                          (4, "네, 안녕하세요! 😊")]
    assert "3 │ input" not in result.out + result.err and "output" in result.out + result.err
    summary = stats(open_dataset(source, columns={"input": "prompt", "output": "completion"})).summary
    assert summary.rows == 3  # the clash is left out
    rendered = cli("render", str(source), "--map", MAP, "--template", "chatml")
    assert rendered.code == 1
    texts = [json.loads(line)["text"] for line in rendered.out.splitlines()]
    assert texts[0] == "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n4<|im_end|>\n"


def test_rows_given_as_an_iterator_are_renamed_once():
    rows = iter([{"q": "1+1?", "a": "2"}, {"q": "2+2?", "a": "4"}])
    with open_dataset(rows, columns={"q": "question", "a": "answer"}) as data:
        assert data.format.name == "qa"
        assert [r.data for r in data.records()] == [{"question": "1+1?", "answer": "2"},
                                                    {"question": "2+2?", "answer": "4"}]


@pytest.mark.parametrize(("text", "message"), [
    ("response", "column mapping 'response': write SOURCE=FIELD, e.g. --map response=completion"),
    ("=completion", "column mapping =completion: both names are needed (SOURCE=FIELD)"),
    ("a=prompt,b=prompt", "column mapping: 'prompt' is the target twice"),
    ("a=prompt,a=completion", "column mapping: 'a' is mapped twice"),
])
def test_a_mapping_that_cannot_work_is_one_line_naming_it(cli, source, text, message):
    result = cli("validate", str(source), "--map", text)
    assert (result.code, result.err) == (2, f"instructkit validate: error: {message}\n")
    with pytest.raises(InputError, match="column mapping"):
        Columns.parse(text)


def test_a_dataset_opened_without_the_map_is_not_read_with_it(source):
    with open_dataset(source, format="prompt-completion") as data:
        with pytest.raises(InputError, match="opened without --map input=prompt"):
            validate(open_dataset(data, columns=MAP))


@pytest.mark.parametrize(("fields", "hint"), [
    (["prompt", "response"], "--map response=completion reads them as prompt-completion"),
    (["query", "answer"], "--map query=prompt,answer=completion reads them as prompt-completion"),
    (["question", "output"], "--map output=answer reads them as qa"),
    (["instruction", "response"], "--map response=output reads them as alpaca"),
    (["text", "label"], None),
    (["input"], None),
])
def test_suggest_names_a_map_only_for_a_prompt_and_a_reply(fields, hint):
    assert suggest(fields) == hint


names = st.text(alphabet="abcdefgh", min_size=1, max_size=3)


@given(st.dictionaries(names, st.integers(), max_size=6), st.dictionaries(names, names, max_size=4))
def test_renaming_then_restoring_gives_the_row_back(row, mapping):
    targets = list(mapping.values())
    if len(set(targets)) < len(targets):
        return  # refused by parse
    columns = Columns.parse(mapping)
    try:
        renamed = columns.rename(row)
    except ValueError:  # a clash: a field would be overwritten, reported as column-clash
        return
    assert len(renamed) == len(row) and sorted(renamed.values()) == sorted(row.values())  # nothing lost
    assert columns.restore(renamed) == row


def test_gsm8k_read_through_a_map_matches_reading_it_as_qa(gsm8k):
    direct = validate(gsm8k)
    mapped = validate(open_dataset(gsm8k, columns={"question": "prompt", "answer": "completion"}))
    assert direct.format == "qa" and mapped.format == "prompt-completion"
    assert (mapped.rows, mapped.valid, mapped.counts()) == (direct.rows, direct.valid, direct.counts())

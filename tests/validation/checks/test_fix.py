"""`--fix`: each mechanical repair on its row and path, nothing changed without the flag, and
untouched rows written byte for byte."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings

from tests.strategies import conversations
from validation import convert, validate
from validation.codes import FIXES
from validation.checks.fix import Fixer
from validation.readers.formats import get_format
from templating import get_template

BROKEN = {"messages": [{"role": "system", "content": "Be kind."}, {"role": "User", "content": " Hi "},
                       {"role": "user", "content": "there"}, {"role": "bot", "content": "Hello!\n"}], "id": 7}
CLEAN = {"messages": [{"role": "user", "content": "ok"}, {"role": "assistant", "content": "fine"}],
         "n": 123456789012345678901234567890}


def write(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def fixes(report):
    return [(f.row, f.path, f.code) for f in report.fixes]


def test_without_a_template_only_roles_and_consecutive_turns_change(tmp_path):
    source = write(tmp_path / "in.jsonl", [BROKEN, CLEAN])
    report = validate(source, fix=True, write_clean=tmp_path / "out.jsonl")
    assert fixes(report) == [(1, "messages[1].role", "role-mapped"), (1, "messages[3].role", "role-mapped"),
                             (1, "messages[2].content", "turns-merged")]
    assert report.ok and report.issues == []
    lines = (tmp_path / "out.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {"messages": [{"role": "system", "content": "Be kind."},
                                                 {"role": "user", "content": " Hi \n\nthere"},
                                                 {"role": "assistant", "content": "Hello!\n"}], "id": 7}
    assert lines[1] == source.read_text().splitlines()[1]  # untouched row: the same bytes, big integer intact


def test_a_template_without_system_role_gets_the_system_prompt_folded_and_trimmed(tmp_path):
    source = write(tmp_path / "in.jsonl", [BROKEN])
    report = validate(source, fix=True, template=get_template("gemma"), write_clean=tmp_path / "out.jsonl")
    assert fixes(report) == [(1, "messages[1].role", "role-mapped"), (1, "messages[3].role", "role-mapped"),
                             (1, "messages[0].content", "system-folded"), (1, "messages[2].content", "turns-merged"),
                             (1, "messages[3].content", "whitespace-stripped")]
    assert report.ok
    assert json.loads((tmp_path / "out.jsonl").read_text())["messages"] == [
        {"role": "user", "content": "Be kind.\n\n Hi \n\nthere"}, {"role": "assistant", "content": "Hello!"}]


def test_nothing_changes_without_the_flag(tmp_path):
    source = write(tmp_path / "in.jsonl", [BROKEN])
    report = validate(source, write_clean=tmp_path / "out.jsonl")
    assert report.fixes is None and [i.code for i in report.issues] == ["role-wrong-case", "unknown-role"]
    assert (tmp_path / "out.jsonl").read_text() == ""


def test_sharegpt_rows_keep_sharegpt_names(tmp_path):
    row = {"conversations": [{"from": "Human", "value": "a"}, {"from": "bot", "value": "b"}]}
    source = write(tmp_path / "in.jsonl", [row])
    report = convert(source, tmp_path / "out.jsonl", to="sharegpt", fix=True)
    assert fixes(report) == [(1, "conversations[0].from", "role-mapped"), (1, "conversations[1].from", "role-mapped")]
    assert json.loads((tmp_path / "out.jsonl").read_text())["conversations"] == [
        {"from": "human", "value": "a"}, {"from": "gpt", "value": "b"}]


def test_qa_fields_are_stripped_for_a_trimming_template(tmp_path):
    source = write(tmp_path / "in.jsonl", [{"question": " 1+1? ", "answer": "2"}])
    report = validate(source, fix=True, template=get_template("llama3"))
    assert fixes(report) == [(1, "question", "whitespace-stripped")]


def test_fix_cli_lists_changes_in_json(cli, tmp_path):
    source = write(tmp_path / "in.jsonl", [BROKEN, CLEAN])
    body = cli("validate", source, "--fix", "--json").json()
    assert [f["code"] for f in body["fixes"]] == ["role-mapped", "role-mapped", "turns-merged"]
    assert set(f["code"] for f in body["fixes"]) <= set(FIXES)
    assert "fixes" in cli("validate", source, "--json").json() and cli("validate", source, "--json").json()["fixes"] \
        is None


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_fix_is_idempotent_and_leaves_valid_alternating_rows_alone(messages):
    for template in (None, "gemma", "llama3"):
        fixer = Fixer(get_format("messages"), get_template(template).rules if template else None)
        row = {"messages": messages, "id": 1}
        once, _ = fixer.fix(row)
        twice, changes = fixer.fix(once)
        assert (twice, changes) == (once, [])
        if template is None:
            assert once is row  # nothing to repair in a valid, alternating conversation


@pytest.mark.parametrize(("row", "message"), [
    ({"messages": [{"role": "human", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     "unknown role 'human'; expected one of system, user, assistant, tool; --fix maps it to 'user'"),
    ({"messages": [{"role": "user", "content": "hi"}, {"role": "Bot", "content": "yo"}]},
     "unknown role 'Bot'; expected one of system, user, assistant, tool; --fix maps it to 'assistant'"),
    ({"messages": [{"role": "User", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     "role 'User' should be 'user' (--fix lowercases it)"),
    ({"messages": [{"role": "wizard", "content": "hi"}, {"role": "assistant", "content": "yo"}]},
     "unknown role 'wizard'; expected one of system, user, assistant, tool"),  # no fix: no promise
    ({"conversations": [{"from": "human", "value": "hi"}, {"from": "bot", "value": "yo"}]},
     "unknown ShareGPT role 'bot'; expected one of human, user, gpt, assistant, system, tool, observation, "
     "function_call; --fix maps it to 'gpt'"),
])
def test_a_role_issue_says_what_fix_does_and_fix_does_it(row, message):
    report = validate([row, row])
    assert {i.message for i in report.issues} == {message}
    fixed = validate([row, row], fix=True)
    assert fixed.ok == message.endswith(("'user'", "'assistant'", "'gpt'", "lowercases it)"))

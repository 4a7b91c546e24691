"""Terminal reports print the user's text as it is: `[/INST]` is a token and `[bold]` part of a
file name, never rich markup (a closing tag with no opening one used to end in an internal error)."""

from __future__ import annotations

import json

import pytest

ROW = {"messages": [{"role": "system", "content": "[/INST] be [bold]kind"},
                    {"role": "user", "content": "Say [INST] hi"},
                    {"role": "assistant", "content": "[/INST] ok [red]"}]}


@pytest.fixture
def bracketed(tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one table row per line
    monkeypatch.chdir(tmp_path)  # a short name: a table's title wraps at the table's width
    path = tmp_path / "data[bold]v2.jsonl"
    path.write_text(json.dumps(ROW) + "\n" + json.dumps(ROW) + "\n", encoding="utf-8")
    return path.name


def test_stats_prints_names_and_system_prompts_as_they_are(cli, bracketed):
    result = cli("stats", bracketed)
    assert result.code == 0
    assert "data[bold]v2.jsonl (messages)" in result.out and "[/INST] be [bold]kind" in result.out
    compared = cli("stats", bracketed, "--compare", bracketed)
    assert compared.code == 0 and f"B: {bracketed}" in compared.out


def test_validate_prints_the_tokens_it_quotes_as_they_are(cli, bracketed):
    result = cli("validate", bracketed, "--template", "llama2")
    assert result.code == 1
    assert f"{bracketed} (messages): 2 rows" in result.out
    assert "messages[0].content │ '[/INST]' of template llama2 at offset 0" in result.out


def test_templates_lists_bracketed_special_tokens(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    result = cli("templates")
    assert result.code == 0 and "<s> </s> [INST] [/INST] <<SYS>>" in result.out


def test_training_messages_escape_data_and_print_replies_as_they_are():
    from rich.console import Console

    from training.steps import plain, say

    console = Console(record=True, width=200)
    say(console, f"[yellow]warning: {plain('template [/INST] differs')}[/]")
    say(console, "reply: [/INST] [bold]x", markup=False)
    assert console.export_text().splitlines() == ["warning: template [/INST] differs", "reply: [/INST] [bold]x"]


def test_a_progress_bar_shows_a_bracketed_file_name_as_it_is(bracketed, monkeypatch):
    import io
    import sys

    from validation import validate

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    validate(bracketed, progress=True)
    assert "validating data[bold]v2.jsonl" in terminal.getvalue()

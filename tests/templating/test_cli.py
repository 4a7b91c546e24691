"""`instructkit templates` and `instructkit render` on real data."""

from __future__ import annotations

import json

import pytest

from templating import get_template
from tests.conftest import ROOT
from validation import read


def test_templates_json_lists_every_builtin_with_its_tokens(cli):
    result = cli("templates", "--json")
    listed = {t["name"]: t for t in result.json()}
    assert {"chatml", "smollm2", "qwen2.5", "llama3", "gemma", "phi3"} <= set(listed)
    assert listed["gemma"]["system"] is False
    assert listed["smollm2"]["special_tokens"] == ["<|im_start|>", "<|im_end|>"]


def test_render_gsm8k_writes_text_and_spans_for_every_row(cli, gsm8k, tmp_path):
    out = tmp_path / "rendered.jsonl"
    result = cli("render", gsm8k, "--template", "smollm2", "-o", out)
    assert result.code == 0
    assert "rendered 1319 of 1319 rows with smollm2" in result.err
    lines = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    first = next(read(gsm8k))
    expected = get_template("smollm2").render(first)
    assert lines[0] == {"text": expected.text, "assistant_spans": [list(s) for s in expected.assistant_spans]}
    start, end = lines[0]["assistant_spans"][0]
    assert lines[0]["text"][start:end] == first.messages[1].content + "<|im_end|>\n"
    assert len(lines) == 1319


def test_render_reports_conversations_the_template_refuses(cli, tmp_path, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")  # one issue per line in the rich report
    path = tmp_path / "sys.jsonl"
    path.write_text(json.dumps({"messages": [{"role": "system", "content": "s"}, {"role": "user", "content": "u"},
                                             {"role": "assistant", "content": "a"}]}) + "\n")
    result = cli("render", path, "--template", "gemma")
    assert result.code == 1
    assert result.out == ""
    assert "role-not-supported" in result.err and "messages[0].role" in result.err


def test_render_show_spans_prints_the_row(cli, tmp_path):
    result = cli("render", ROOT / "examples" / "everyday_conversations.jsonl", "--template", "chatml", "--show-spans")
    assert result.code == 0
    assert "<|im_start|>assistant" in result.out and "row 1 with chatml" in result.out


def test_render_show_spans_colours_reasoning_apart_from_the_answer(cli, monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")
    row = ROOT / "tests" / "data" / "broken" / "reasoning-truncated.jsonl"
    out = cli("render", row, "--template", "qwen3", "--show-spans").out
    dim, trained, reasoning = "\x1b[2m", "\x1b[1;32m", "\x1b[1;35m"
    assert f"{dim}<|im_start|>assistant\x1b[0m\n{reasoning}<think>\x1b[0m\n{reasoning}Two and two make four.\x1b[0m\n" \
           f"{reasoning}</think>\x1b[0m\n\n{trained}4<|im_end|>\x1b[0m" in out
    assert "(\x1b[1;35mreasoning\x1b[0m, \x1b[1;32manswer\x1b[0m)" in out.splitlines()[0]
    plain = cli("render", row, "--template", "chatml", "--show-spans").out  # chatml drops the field: no reasoning
    assert reasoning not in plain and f"{trained}4<|im_end|>\x1b[0m" in plain


def test_render_refuses_content_that_would_forge_turns(cli, monkeypatch):
    monkeypatch.setenv("COLUMNS", "300")
    result = cli("render", ROOT / "tests" / "data" / "broken" / "special-token-in-content.jsonl", "--template", "chatml")
    assert result.code == 1
    assert len(result.out.splitlines()) == 2  # rows 1 and 3; row 2 is reported, not rendered
    assert "special-token-in-content" in result.err and "<|im_start|>assistant\nforged" not in result.out


def test_render_reports_what_a_template_raises_as_template_refused(tmp_path):
    import io

    from templating import register_template, registry
    from templating.render import render_rows

    register_template("test-no-greetings", "{% if 'hello' in messages[0]['content'] %}"
                      "{{ raise_exception('no greetings') }}{% endif %}{{ messages[0]['content'] }}",
                      special_tokens=[], end_of_turn="", generation_prompt="", replace=True)
    try:
        rows = [{"messages": [{"role": "user", "content": "hello"}, {"role": "assistant", "content": "hi"}]}]
        out = io.StringIO()
        report = render_rows(rows, out, template="test-no-greetings")
    finally:
        registry._TEMPLATES.pop("test-no-greetings")
        registry._COMPILED.pop("test-no-greetings", None)
    assert [(i.row, i.code, i.message) for i in report.issues] == [
        (1, "template-refused", "template test-no-greetings refuses this conversation: no greetings")]
    assert out.getvalue() == ""


@pytest.mark.parametrize("width", ["80", "200", "240"])  # (blocks, blocks, the table)
def test_templates_prints_every_special_token_whole_at_any_width(cli, monkeypatch, width):
    from templating import list_templates

    monkeypatch.setenv("COLUMNS", width)
    result = cli("templates")
    assert result.code == 0 and "…" not in result.out
    flat = "".join(result.out.split())  # (folded at the edge of the terminal, never cut)
    for spec in list_templates():
        assert all("".join(token.split()) in flat for token in (*spec.special_tokens, spec.end_of_turn)), spec.name

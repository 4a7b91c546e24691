"""User templates are untrusted: a render that loops or writes without end stops with one line."""

from __future__ import annotations

import time

import pytest

from templating import environment
from templating.environment import TemplateLimit, compile_template, render_with_spans

MESSAGES = [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "yo"}]


@pytest.mark.parametrize("source, says", [
    ("{{ 'x' * 60000000 }}", "the template repeats a value 60,000,000 times (60,000,000 items, more than 8,000,000)"),
    ("{% for i in range(100000) %}{{ 'x' * 1000 }}{% endfor %}",
     "the template wrote more than 8,000,000 characters for one conversation"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}",
     "the template rendered for more than 0.5 s (an endless loop?)"),
    ("{% for a in range(100000) %}{% for b in range(100000) %}.{% endfor %}{% endfor %}",
     "the template rendered for more than 0.5 s (an endless loop?)"),
    ("{% macro f() %}{{ f() }}{% endmacro %}{{ f() }}", "the template calls itself without end (a recursive macro)"),
    ("{{ 7 ** 123456789 }}", "the template raises 7 to the power 123,456,789"),
])
def test_a_render_past_a_limit_stops_at_once_with_one_line(monkeypatch, source, says):
    monkeypatch.setattr(environment, "RENDER_SECONDS", 0.5)
    started = time.monotonic()
    with pytest.raises(TemplateLimit) as raised:
        render_with_spans(compile_template(source), messages=MESSAGES)
    assert str(raised.value) == says
    assert time.monotonic() - started < 5


def test_range_in_the_sandbox_still_behaves_as_a_sequence():
    text, _ = render_with_spans(compile_template(
        "{{ range(5)|length }} {{ range(3)|list }} {{ range(4)[-1] }} {{ range(3)|reverse|join(',') }}"))
    assert text == "5 [0, 1, 2] 3 2,1,0"


def test_templates_check_stops_at_the_first_render_past_a_limit(cli, monkeypatch, tmp_path):
    monkeypatch.setattr(environment, "RENDER_SECONDS", 0.5)
    path = tmp_path / "loop.jinja"
    path.write_text("{% for m in messages %}<|{{ m.role }}|>{% generation %}{{ m.content }}<|end|>{% endgeneration %}"
                    "{% for a in range(100000) %}{% for b in range(100000) %}{% endfor %}{% endfor %}{% endfor %}")
    started = time.monotonic()
    result = cli("templates", "check", str(path), "--end-of-turn", "<|end|>", "--examples", "50")
    assert result.code == 2 and time.monotonic() - started < 30
    assert result.err == (f"instructkit templates: error: template {path}: the template rendered for more than "
                          "0.5 s (an endless loop?)\n")


@pytest.mark.parametrize(("source", "tag"), [
    ('{% include "other.jinja" %}', "include"), ('{% import "macros.jinja" as m %}', "import"),
    ('{% from "macros.jinja" import turn %}', "from ... import"), ('{% extends "base.jinja" %}', "extends"),
])
def test_a_tag_that_loads_another_template_is_one_line_naming_it(source, tag):
    from templating.environment import TemplateError

    with pytest.raises(TemplateError) as caught:
        compile_template("{% for m in messages %}{{ m.content }}{% endfor %}\n" + source)
    assert str(caught.value) == (f"template line 2: {{% {tag} %}} loads another template; a chat template must be one "
                                 "self-contained text (copy the macro or text in)")


def test_templates_check_says_why_the_template_refused_every_conversation(cli, tmp_path):
    path = tmp_path / "refuses.jinja"
    path.write_text('{% for m in messages %}{{ raise_exception("only one role, please") }}{% endfor %}')
    result = cli("templates", "check", path, "--end-of-turn", "<|im_end|>")
    assert result.code == 1
    assert "the template refused every generated conversation (the last with: only one role, please)" in \
        " ".join(result.out.split())


def test_a_python_error_inside_a_template_is_a_template_error():
    from templating.environment import TemplateError

    with pytest.raises(TemplateError, match=r"^the template failed: TypeError: unsupported operand"):
        render_with_spans(compile_template("{{ x + 'text' }}"), x=None)

"""Reasoning traces: reading them from a field or a think block, the checks, and what each
template trains of them (probed, validation/checks/reasoning.py and templating/probes/capabilities.py)."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.strategies import visible_text
from validation.checks.reasoning import (ReasoningSupport, inline, reasoning_issues, reasoning_of, split_inline,
                                  template_reasoning_issues)

FAST = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def path(i: int, field: str) -> str:
    return f"messages[{i}].{field}"


@pytest.mark.parametrize(("message", "expected"), [
    ({"role": "assistant", "content": "4", "reasoning_content": "2+2"}, ("2+2", "4", "reasoning_content")),
    ({"role": "assistant", "content": "4", "thinking": "2+2"}, ("2+2", "4", "thinking")),
    ({"role": "assistant", "content": "<think>\n2+2\n</think>\n\n4"}, ("2+2", "4", "inline")),
    ({"role": "assistant", "content": "2+2</think>4"}, ("2+2", "4", "inline")),  # opened by the prompt
    ({"role": "assistant", "content": "4"}, (None, "4", None)),
    ({"role": "user", "content": "<think>x</think>y"}, (None, "<think>x</think>y", None)),  # text, not reasoning
])
def test_reasoning_is_read_from_a_field_or_an_inline_block(message, expected):
    assert tuple(reasoning_of(message)) == expected


@pytest.mark.parametrize(("content", "codes"), [
    ("<think>\nfine\n</think>\n\nanswer", []),
    ("<think>\nnever closed", ["unclosed-think"]),
    ("<think>a</think><think>b</think>c", ["unbalanced-think"]),
    ("</think>a<think>b", ["unbalanced-think"]),
    ("Sure. <think>\nx\n</think>\n\ny", ["text-before-think"]),
    ("  \n<think>\nx\n</think>\n\ny", []),  # whitespace before the block is not text
])
def test_think_tags_of_a_reply(content, codes):
    found = reasoning_issues([{"role": "user", "content": "q"}, {"role": "assistant", "content": content}], path)
    assert [(where, code) for where, code, _ in found] == [("messages[1].content", c) for c in codes]


@pytest.mark.parametrize(("content", "codes"), [
    ("<think>\nfine\n</think>\n\nanswer", []),
    ("<think>\nnever closed", ["unclosed-think"]),
    ("<think>a</think><think>b</think>c", ["unbalanced-think"]),
    ("Sure. <think>\nx\n</think>\n\ny", ["text-before-think"]),
])
@pytest.mark.parametrize("cut", [None, 3, 9])
def test_think_tags_in_text_parts_are_read_as_the_parts_joined(content, codes, cut):
    """A reply written as parts (after an image; its text in one part, or in two cut anywhere, a tag split across
    them): the findings of the same text as a string, on the same path."""
    parts = [{"type": "image"}, {"type": "text", "text": content}] if cut is None else \
        [{"type": "image"}, {"type": "text", "text": content[:cut]}, {"type": "text", "text": content[cut:]}]
    found = reasoning_issues([{"role": "user", "content": "q"}, {"role": "assistant", "content": parts}], path)
    assert [(where, code) for where, code, _ in found] == [("messages[1].content", c) for c in codes]
    twice = {"role": "assistant", "content": parts, "reasoning_content": "x"}
    assert ("messages[0].reasoning_content", "reasoning-twice") in \
        [(w, c) for w, c, _ in reasoning_issues([twice], path)] or "</think>" not in content


def test_reasoning_held_twice_or_of_a_wrong_type():
    twice = {"role": "assistant", "content": "<think>x</think>y", "reasoning_content": "x"}
    two_fields = {"role": "assistant", "content": "y", "reasoning": "x", "thinking": "x"}
    wrong = {"role": "assistant", "content": "y", "reasoning_content": ["x"]}
    assert [(w, c) for w, c, _ in reasoning_issues([twice, two_fields, wrong], path)] == [
        ("messages[0].reasoning_content", "reasoning-twice"), ("messages[1].thinking", "reasoning-twice"),
        ("messages[2].reasoning_content", "wrong-type")]


QWEN3 = ReasoningSupport(field="reasoning_content", empty_block=True)
R1 = ReasoningSupport(field=None, empty_block=False, prompt_trained=("reasoning",))


def test_what_a_template_would_train_is_one_warning_per_row_and_kind():
    rows = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a", "reasoning_content": "four"},
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "b"},
            {"role": "user", "content": "q"}, {"role": "assistant", "content": "c", "thinking": "three"}]
    assert [(c, m) for _, c, m in template_reasoning_issues(rows, QWEN3, "qwen3", "messages")] == [
        ("reasoning-dropped", "template qwen3 does not print thinking: 5 characters of reasoning in 1 turn(s) would "
                              "not be trained (--fix moves them into the content)"),
        ("empty-think-supervised", "template qwen3 trains an empty think block in 2 turn(s) without reasoning: the "
                                   "model learns to skip thinking there")]
    assert [c for _, c, _ in template_reasoning_issues(rows, R1, "r1", "messages")] == ["reasoning-dropped"]
    nemotron = ReasoningSupport(field="reasoning_content", empty_block=False, history=False)
    assert [(c, m) for _, c, m in template_reasoning_issues(rows, nemotron, "n", "messages")][1:] == [
        ("history-reasoning-dropped", "template n drops the reasoning of replies before the last user turn: 4 "
                                      "characters in 1 turn(s) would train as answers without their reasoning")]
    assert template_reasoning_issues(rows[:2], nemotron, "n", "messages") == []  # the last reply keeps its own
    opened = [{"role": "user", "content": "q"}, {"role": "assistant", "content": "<think>x</think>y"}]
    assert [c for _, c, _ in template_reasoning_issues(opened, R1, "r1", "messages")] == ["generation-prompt-trained"]


@FAST
@given(visible_text.filter(lambda t: "<" not in t), visible_text.filter(lambda t: "<" not in t),
       st.sampled_from(["reasoning_content", "reasoning", "thinking"]))
def test_inlining_keeps_the_reasoning_and_the_answer(thought, answer, name):
    message = {"role": "assistant", "content": answer, name: thought, "weight": 1}
    moved = inline(message)
    assert name not in moved and moved["weight"] == 1
    assert tuple(reasoning_of(moved)) == (thought.strip("\n"), answer.lstrip("\n"), "inline")
    assert split_inline(moved["content"]) == (thought.strip("\n"), answer.lstrip("\n"))
    assert inline(moved) == moved  # once inline, it stays


def test_each_template_is_probed_for_what_it_trains_of_reasoning():
    from templating import get_template, list_templates
    from templating.probes.capabilities import reasoning_support

    found = {s.name: reasoning_support(get_template(s.name)) for s in list_templates()}
    assert found["qwen3"] == ReasoningSupport("reasoning_content", True, ())
    assert found["qwen3-nothink"] == ReasoningSupport("reasoning_content", True, ("plain",))
    assert found["deepseek-r1-distill"] == ReasoningSupport(None, False, ("reasoning",))
    assert found["nemotron-3-nano"] == ReasoningSupport("reasoning_content", True, ("reasoning",), history=False)
    assert found["glm4-moe"] == ReasoningSupport("reasoning_content", True, (), history=False)
    assert found["lfm2.5"] == ReasoningSupport("thinking", False, (), history=False)
    assert found["lfm2.5-vl"] == found["lfm2.5-v2"] == ReasoningSupport("reasoning_content", False, (), history=False)
    assert found["qwen3.5"] == ReasoningSupport("reasoning_content", True, ("reasoning", "plain"))
    assert found["deepseek-v3"] == ReasoningSupport(None, False, (), history=False)  # drops inline blocks too
    others = {name for name, support in found.items() if support != ReasoningSupport(None, False, ())}
    assert others == {"qwen3", "qwen3-nothink", "deepseek-r1-distill", "qwen3.5", "qwen3.5-nothink", "qwen3.6",
                      "qwen3.8", "deepseek-v3", "glm4-moe", "nemotron-3-nano", "nemotron-3-super", "nemotron-3-ultra",
                      "nemotron-3.5-lightning", "gemma4-v5", "diffusion-gemma", "muse-glimmer", "lfm2.5", "lfm2.5-v2", "lfm2.5-vl",
                      "gpt-oss"}
    assert [found[n].describe() for n in ("qwen3", "qwen3-nothink", "deepseek-r1-distill", "chatml")] == [
        "reads reasoning_content, trains an empty think block",
        "reads reasoning_content, trains an empty think block, trains its generation prompt",
        "reasoning inline only, trains its generation prompt", "reasoning inline only"]
    assert found["glm4-moe"].describe() == \
        "reads reasoning_content, trains an empty think block, drops earlier replies' reasoning"


def test_fix_moves_field_reasoning_into_the_content_for_a_template_that_drops_it(cli, tmp_path):
    import json

    source = tmp_path / "r.jsonl"
    row = {"messages": [{"role": "user", "content": "2+2?"},
                        {"role": "assistant", "content": "4", "reasoning_content": "Two and two."}]}
    source.write_text(json.dumps(row) + "\n")
    out = tmp_path / "fixed.jsonl"
    report = cli("validate", source, "--json", "--fix", "--template", "chatml", "--write-clean", out).json()
    assert [(f["path"], f["code"]) for f in report["fixes"]] == [("messages[1].content", "reasoning-inlined")]
    assert [i["code"] for i in report["issues"]] == []
    assert json.loads(out.read_text())["messages"][1] == {"role": "assistant",
                                                          "content": "<think>\nTwo and two.\n</think>\n\n4"}
    kept = cli("validate", source, "--json", "--fix", "--template", "qwen3").json()  # qwen3 prints the field
    assert kept["fixes"] == [] and kept["issues"] == []

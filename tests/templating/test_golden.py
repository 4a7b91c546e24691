"""Published golden renders (stored as data with their source) reproduced byte for byte."""

from __future__ import annotations

import json

import pytest

from templating import get_template
from tests.conftest import DATA
from tests.strategies import as_template_reads

GOLDEN = json.loads((DATA / "golden_renders.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["template"] for c in GOLDEN["cases"]])
def test_render_matches_the_published_expected_output(case):
    messages = GOLDEN["messages"] if case["system"] else GOLDEN["messages"][1:]
    assert get_template(case["template"]).render(messages, add_generation_prompt=True).text == case["expected"]


BUILTIN = json.loads((DATA / "golden_builtins.json").read_text(encoding="utf-8"))


def _covered(spans, length):
    """Which characters the spans mark: compared as a mask, not as a list, so that nothing here
    repeats the registry's own way of merging spans."""
    mask = bytearray(length)
    for start, end in spans:
        mask[start:end] = b"\x01" * (end - start)
    return bytes(mask)


@pytest.mark.parametrize("case", BUILTIN["cases"], ids=[f"{c['template']}-{c['conversation']}-"
                                                        f"{'prompt' if c['add_generation_prompt'] else 'end'}"
                                                        for c in BUILTIN["cases"]])
def test_every_builtin_renders_its_recorded_text_and_trained_characters(case):
    """tests/data/golden_builtins.json, recorded by make_golden_builtins.py with transformers."""
    template = get_template(case["template"])
    messages = BUILTIN["conversations"][case["conversation"]]
    if not template.spec.supports_system:
        messages = [m for m in messages if m["role"] != "system"]
    messages = as_template_reads(template, messages)  # (as parts where it reads only those: smolvlm, idefics3)
    rendered = template.render(messages, add_generation_prompt=case["add_generation_prompt"])
    training = case.get("training_text", case["text"])  # qwen3's training variant keeps every think block
    assert rendered.text == training
    assert template.render_official(messages, add_generation_prompt=case["add_generation_prompt"]) == case["text"]
    assert _covered(rendered.assistant_spans, len(rendered.text)) == _covered(case["trained"], len(training))


def test_the_recording_covers_every_builtin():
    from templating.builtins import BUILTINS

    assert sorted({c["template"] for c in BUILTIN["cases"]}) == sorted(spec.name for spec in BUILTINS)

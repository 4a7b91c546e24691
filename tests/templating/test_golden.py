"""Published golden renders (stored as data with their source) reproduced byte for byte."""

from __future__ import annotations

import json

import pytest

from templating import get_template
from tests.conftest import DATA

GOLDEN = json.loads((DATA / "golden_renders.json").read_text(encoding="utf-8"))


@pytest.mark.parametrize("case", GOLDEN["cases"], ids=[c["template"] for c in GOLDEN["cases"]])
def test_render_matches_the_published_expected_output(case):
    messages = GOLDEN["messages"] if case["system"] else GOLDEN["messages"][1:]
    assert get_template(case["template"]).render(messages, add_generation_prompt=True).text == case["expected"]

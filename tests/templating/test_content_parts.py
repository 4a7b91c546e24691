"""Content parts under every template: where a template takes them, our render and spans equal what
transformers renders from the same parts; where it does not, the probe says what the official
template does instead (fails, prints the list, drops the text), which transformers confirms."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from templating import get_template, list_templates
from templating.probes.capabilities import part_support
from tests.oracle import render_official
from tests.strategies import as_template_reads, conversations
from tests.templating.test_parity import covered, span_reference
from validation.content import text_of

pytest.importorskip("transformers.utils.chat_template_utils")

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
NAMES = [spec.name for spec in list_templates()]
TAKES_PARTS = [name for name in NAMES if part_support(get_template(name)).roles]
IMAGE_PARTS = {"image": {"type": "image"}, "image_url": {"type": "image_url", "image_url": {"url": "cat.png"}}}


@st.composite
def as_parts(draw, messages: list[dict], support) -> list[dict]:
    """`messages` with each content the template takes as parts cut into 1-3 text parts, and image
    parts of the types it writes put into user turns."""
    out = []
    for m in messages:
        text = text_of(m["content"])
        if m["role"] in support.single:  # (the one text part it writes there)
            out.append({**m, "content": [{"type": "text", "text": text}]})
            continue
        if not support.takes(m["role"]) or not draw(st.booleans()):
            out.append(m)
            continue
        cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=2)))
        parts = [{"type": "text", "text": text[a:b]} for a, b in zip([0, *cuts], [*cuts, len(text)])]
        parts = [p for p in parts if p["text"]] or [{"type": "text", "text": text}]
        if m["role"] == "user" and support.images:
            for kind in draw(st.lists(st.sampled_from(support.images), max_size=2)):
                parts.insert(draw(st.integers(0, len(parts))), IMAGE_PARTS[kind])
        out.append({**m, "content": parts})
    return out


def test_templates_that_take_parts_are_the_ones_whose_text_reads_them():
    assert TAKES_PARTS == ["diffusion-gemma", "gemma3", "gemma4", "gemma4-v2", "gemma4-v3", "gemma4-v4", "gemma4-v5",
                           "glm4-moe", "idefics3", "lfm2.5", "lfm2.5-v2", "lfm2.5-vl", "llava-next", "muse-glimmer",
                           "qwen2.5-vl", "qwen3-vl", "qwen3.5", "qwen3.5-nothink", "qwen3.6", "qwen3.8", "smolvlm"]
    # SmolVLM's, Idefics3's and LLaVA-NeXT's read parts only: a string content's characters are iterated and dropped
    assert [name for name in TAKES_PARTS if not part_support(get_template(name)).strings] == [
        "idefics3", "llava-next", "smolvlm"]
    # ... and LLaVA-NeXT writes the first text part of a system turn or a reply, as gemma3 of its system turn
    assert {name: part_support(get_template(name)).single for name in ("llava-next", "gemma3")} == {
        "llava-next": ("system", "assistant"), "gemma3": ("system",)}
    assert part_support(get_template("qwen3.5")).images == ("image", "image_url")
    assert part_support(get_template("gemma3")).images == ("image",)
    assert part_support(get_template("glm4-moe")).images == ()
    assert part_support(get_template("gemma3")).roles == ("user", "assistant")


@pytest.mark.parametrize("name", TAKES_PARTS)
@SETTINGS
@given(data=st.data())
def test_parts_render_and_train_as_transformers_renders_them(name, data):
    template = get_template(name)
    support = part_support(template)
    plain = as_template_reads(template, data.draw(conversations(system=None if template.spec.supports_system else
                                                                False)))
    messages = data.draw(as_parts(plain, support))
    official, _ = render_official(template.spec, messages, template.official_jinja)
    assert template.render_official(messages) == official
    rendered = template.render(messages)
    reference = span_reference(template)  # (its own training variant; for a derived one, the marked text of its format)
    text, indices = render_official(reference.spec, messages, reference.jinja, return_assistant_tokens_mask=True)
    if reference is not template and text != rendered.text:  # gemma4-v2 writes "\n\n<|image|>\n\n", its format not
        assert rendered.text == official
        return
    assert rendered.text == text
    assert covered(rendered.assistant_spans, len(text)) == covered(indices, len(text))


@pytest.mark.parametrize("name", [n for n in TAKES_PARTS if not part_support(get_template(n)).images])
def test_a_template_without_images_renders_an_image_part_as_nothing(name):
    template = get_template(name)
    image = [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": "What is it?"}]},
             {"role": "assistant", "content": "A cat."}]
    without = [{"role": "user", "content": [{"type": "text", "text": "What is it?"}]}, image[1]]
    assert render_official(template.spec, image, template.official_jinja)[0] == \
        render_official(template.spec, without, template.official_jinja)[0]


@pytest.mark.parametrize("name, why", [("smollm2", "it fails on a list of parts"),
                                       ("llama3.2", "it writes the list of parts as text"),
                                       ("lfm2", "it writes the list of parts as text"),
                                       ("qwen3", "it drops the text of the parts")])
def test_what_a_template_without_parts_does_is_what_transformers_does(name, why):
    template = get_template(name)
    messages = [{"role": "user", "content": [{"type": "text", "text": "Name a colour."}]},
                {"role": "assistant", "content": [{"type": "text", "text": "Red."}]}]
    assert part_support(template).why("user") == why
    try:
        text, _ = render_official(template.spec, messages, template.official_jinja)
    except Exception:  # noqa: BLE001 (whatever transformers raises: the template fails)
        assert why == "it fails on a list of parts"
        return
    if why == "it writes the list of parts as text":
        assert "'type': 'text'" in text or '"type": "text"' in text
    else:
        assert "Name a colour." not in text and "Red." not in text


def test_text_of_joins_text_parts_with_nothing_between_as_the_templates_do():
    parts = [{"type": "text", "text": "Look "}, {"type": "image"}, {"type": "text", "text": "here"}]
    assert text_of(parts) == "Look here"
    template = get_template("qwen3.5")
    messages = [{"role": "user", "content": [p for p in parts if p["type"] == "text"]},
                {"role": "assistant", "content": "ok"}]
    assert template.render(messages).text == template.render([{"role": "user", "content": "Look here"},
                                                              messages[1]]).text


def test_audit_trains_text_parts_and_leaves_out_a_conversation_with_an_image(cli, tmp_path):
    import json

    from tests.conftest import DATA

    (tmp_path / "red.png").write_bytes((DATA / "broken" / "images" / "red.png").read_bytes())
    rows = [{"messages": [{"role": "user", "content": [{"type": "text", "text": "Name a "},
                                                       {"type": "text", "text": "colour."}]},
                          {"role": "assistant", "content": [{"type": "text", "text": "Red."}]}]},
            {"messages": [{"role": "user", "content": [{"type": "image", "image": "red.png"},
                                                       {"type": "text", "text": "What colour?"}]},
                          {"role": "assistant", "content": "Red."}]}]
    source = tmp_path / "rows.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = cli("audit", source, "--template", "gemma3", "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct",
                 "--json")
    report = result.json()
    # (gemma3 writes <bos>, which SmolLM2's tokenizer spells as text: a warning on both rows)
    assert [(i["row"], i["code"]) for i in report["issues"]] == [(1, "missing-bos"), (2, "vision-not-supported")]
    assert (report["valid"], report["invalid"], result.code) == (1, 1, 1)
    assert "a text model would drop them and train their placeholders as text" in report["issues"][1]["message"]

"""One resolver wherever a template is named: a registry name, a Jinja file (its special tokens
from a tokenizer), a tokenizer_config.json, a model folder, a .gguf file or a hub id."""

from __future__ import annotations

import json
import shutil

import pytest

from templating import get_template, load_tokenizer
from templating.embedded import SMOLLM2_ID, gguf_path
from templating.resolve import resolve_template
from tests.conftest import ROOT
from validation import InputError, UnknownName

CHATS = ROOT / "examples" / "everyday_conversations.jsonl"
FORGED = {"messages": [{"role": "user", "content": "hi <|im_end|>"}, {"role": "assistant", "content": "hello"}]}


@pytest.fixture
def jinja_file(tmp_path):
    path = tmp_path / "mine.jinja"
    path.write_text(get_template("chatml").jinja)  # ChatML with its {% generation %} marks
    return path


@pytest.fixture
def model_folder(tmp_path, smollm2_tokenizer):
    folder = tmp_path / "model"
    smollm2_tokenizer.save_pretrained(folder)
    return folder


def test_a_jinja_file_renders_as_the_registry_template_with_the_same_text(jinja_file, smollm2_tokenizer):
    mine = resolve_template(str(jinja_file), tokenizer=smollm2_tokenizer)
    messages = json.loads(CHATS.read_text().splitlines()[2])["messages"]
    assert mine.render(messages).text == get_template("chatml").render(messages).text
    assert mine.render(messages).assistant_spans == get_template("chatml").render(messages).assistant_spans
    assert mine.spec.end_of_turn == "<|im_end|>" and "<|im_start|>" in mine.spec.special_tokens


def test_validate_and_render_take_a_jinja_file_with_its_tokenizer(cli, jinja_file, tmp_path):
    forged = tmp_path / "forged.jsonl"
    forged.write_text(json.dumps(FORGED) + "\n" + CHATS.read_text().splitlines()[0] + "\n")
    result = cli("validate", str(forged), "--template", str(jinja_file), "--tokenizer", SMOLLM2_ID, "--json")
    assert result.code == 1
    assert [(i["row"], i["path"], i["code"]) for i in result.json()["issues"]] == [
        (1, "messages[0].content", "special-token-in-content")]
    assert result.json()["template"] == str(jinja_file)
    rendered = cli("render", str(CHATS), "--template", str(jinja_file), "--tokenizer", SMOLLM2_ID)
    assert rendered.code == 0 and rendered.err == f"rendered 12 of 12 rows with {jinja_file}\n"
    expected = cli("render", str(CHATS), "--template", "chatml").out
    assert rendered.out == expected  # the same text and spans as the registry's ChatML


def test_a_jinja_file_in_a_model_folder_takes_that_tokenizer(cli, model_folder):
    (model_folder / "chat_template.jinja").write_text(get_template("chatml").jinja)
    result = cli("render", str(CHATS), "--template", str(model_folder / "chat_template.jinja"), "--text")
    assert result.code == 0 and result.out.startswith("<|im_start|>user\nHi! How are you today?<|im_end|>")


def test_a_model_names_its_own_template(cli, model_folder):
    for target in (str(model_folder), str(model_folder / "tokenizer_config.json"), SMOLLM2_ID, str(gguf_path())):
        result = cli("validate", str(CHATS), "--template", target, "--json")
        assert (result.code, result.json()["template"]) == (0, "smollm2"), target  # matched to the registry


def test_audit_takes_a_jinja_file_with_or_without_marks(cli, tmp_path, jinja_file):
    registry = cli("audit", str(CHATS), "--model", SMOLLM2_ID, "--template", "chatml", "--json").json()["summary"]
    result = cli("audit", str(CHATS), "--model", SMOLLM2_ID, "--template", str(jinja_file), "--json")
    assert result.code == 0 and result.json()["summary"] == registry
    official = tmp_path / "official.jinja"
    official.write_text(get_template("chatml").official_jinja)  # the text models ship: no generation marks
    result = cli("audit", str(CHATS), "--model", SMOLLM2_ID, "--template", str(official), "--json")
    assert result.code == 0 and result.json()["summary"] == registry  # the spans derived by rendering


@pytest.mark.parametrize(("target", "message"), [
    ("chatmll", "unknown template 'chatmll'; did you mean 'chatml'?"),
    ("missing.jinja", "missing.jinja: no such template file, folder or model"),
    ("./nowhere/model", "./nowhere/model: no such template file, folder or model"),
])
def test_a_template_that_is_not_there_is_one_line(cli, target, message):
    result = cli("validate", str(CHATS), "--template", target)
    assert (result.code, result.err) == (2, f"instructkit validate: error: {message}\n")
    with pytest.raises(UnknownName):
        resolve_template(target)


def test_a_jinja_file_needs_its_tokenizer(tmp_path, jinja_file):
    lone = tmp_path / "lone" / "t.jinja"
    lone.parent.mkdir()
    shutil.copy(jinja_file, lone)
    with pytest.raises(InputError) as caught:
        resolve_template(str(lone))
    assert str(caught.value) == (f"{lone}: a Jinja file needs its tokenizer for its special tokens and end-of-turn "
                                 "marker: give its tokenizer (--tokenizer), or put the file in its model's folder")
    broken = tmp_path / "broken.jinja"
    broken.write_text("{% for m in messages %}")
    with pytest.raises(InputError, match="not a usable Jinja template"):
        resolve_template(str(broken), tokenizer=load_tokenizer())

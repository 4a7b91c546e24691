"""validation/validate.py's `read` and `to_dataset`: valid conversations out, the first invalid row raised."""

from __future__ import annotations

import pytest

from validation import InvalidRow, read, to_dataset


GOOD = [{"messages": [{"role": "user", "content": f"q{i}"}, {"role": "assistant", "content": f"a{i}"}],
         "id": i} for i in range(3)]


def test_read_raises_on_the_first_invalid_row_with_its_path():
    rows = [GOOD[0], {"messages": [{"role": "user", "content": None}, {"role": "assistant", "content": "x"}]}]
    with pytest.raises(InvalidRow, match=r"^row 2, messages\[0\]\.content: null-content: content is null$"):
        list(read(rows))


def test_to_dataset_holds_the_valid_conversations(tmp_path):
    rows = [*GOOD, {"messages": [{"role": "user", "content": "no reply"}]}]
    dataset = to_dataset(rows)
    assert dataset.num_rows == 3
    assert dataset[0]["messages"] == GOOD[0]["messages"]


def test_a_template_or_tokenizer_named_to_the_library_is_refused_with_the_object_to_pass():
    """Names become objects at the edges (the CLI, the training config); validation looks none up."""
    from templating import audit
    from validation import CHATML, InputError, stats, validate

    rows = [{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "hello"}]}]
    with pytest.raises(InputError, match=r"^template 'smollm2': pass the template, not its name: "
                                         r"template=templating.get_template\('smollm2'\)$"):
        validate(rows, template="smollm2")
    with pytest.raises(InputError, match=r"^tokenizer 'tok.json': pass the tokenizer, not its name: "
                                         r"tokenizer=templating.load_tokenizer\('tok.json'\)$"):
        stats(rows, tokenizer="tok.json")
    with pytest.raises(InputError, match=r"^tokenizer 'tok.json': pass the tokenizer"):
        audit(rows, tokenizer="tok.json", template=CHATML)
    with pytest.raises(InputError, match=r"^template must be a template \(templating.get_template\) or "
                                         r"TemplateRules, not int$"):
        validate(rows, template=3)


def test_validation_checks_with_its_own_chatml_rules_and_with_any_template_object():
    from validation import CHATML, validate

    rows = [{"messages": [{"role": "user", "content": "a <|im_end|> b"}, {"role": "assistant", "content": "ok"}]}]

    class Template:  # any object with `.rules` (templating.ChatTemplate is one)
        rules = CHATML

    for template in (CHATML, Template()):
        assert [(i.path, i.code) for i in validate(rows, template=template).issues] == [
            ("messages[0].content", "special-token-in-content")]

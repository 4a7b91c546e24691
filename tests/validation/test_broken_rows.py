"""The broken-rows corpus: each defect reported on its own row, with its path and code."""

from __future__ import annotations

import pytest

from tests.conftest import DATA
from templating import get_template

BROKEN = DATA / "broken"

# file, extra CLI arguments, expected (row, path, code, severity), exit code
CASES = [
    ("invalid-json", [], [(2, "", "invalid-json", "error")], 1),
    ("invalid-utf8", [], [(2, "", "invalid-utf8", "error")], 1),
    ("lone-surrogate", [], [(2, "", "lone-surrogate", "error")], 1),
    ("trailing-data", [], [(2, "", "trailing-data", "error")], 1),
    ("too-deeply-nested", [], [(2, "", "too-deeply-nested", "error")], 1),
    ("not-an-object", [], [(2, "", "not-an-object", "error")], 1),
    ("unknown-role", [], [(2, "messages[1].role", "unknown-role", "error")], 1),
    ("role-wrong-case", [], [(2, "messages[0].role", "role-wrong-case", "error")], 1),
    ("missing-content", [], [(2, "messages[0].content", "missing-field", "error")], 1),
    ("null-content", [], [(2, "messages[1].content", "null-content", "error")], 1),
    ("non-string-content", [], [(2, "messages[0].content", "non-string-content", "error")], 1),
    ("empty-content", [], [(2, "messages[1].content", "empty-content", "error")], 1),
    ("whitespace-content", [], [(2, "messages[0].content", "whitespace-content", "error")], 1),
    ("no-assistant-turn", [], [(2, "messages", "no-assistant-turn", "error"),
                               (2, "messages[1].role", "trailing-user-turn", "warning")], 1),
    ("system-not-first", [], [(2, "messages[1].role", "system-not-first", "error")], 1),
    ("trailing-user-turn", [], [(2, "messages[2].role", "trailing-user-turn", "warning")], 0),
    ("non-alternating", [], [(2, "messages[1].role", "non-alternating", "warning")], 0),
    ("non-alternating", ["--template", "chatml"], [(2, "messages[1].role", "non-alternating", "warning")], 0),
    ("tool-without-call", [], [(2, "messages[1].role", "tool-without-call", "error")], 1),
    ("invalid-tools", [], [(2, "tools", "invalid-tools", "error")], 1),
    ("invalid-tool-schema", [], [(2, "tools[0].function.parameters", "invalid-tool-schema", "error")], 1),
    ("duplicate-tool-name", [], [(2, "tools[1].function.name", "duplicate-tool-name", "error")], 1),
    ("no-tools-declared", [], [(2, "messages", "no-tools-declared", "warning")], 0),
    ("unknown-tool", [], [(2, "messages[1].tool_calls[0].function.name", "unknown-tool", "error")], 1),
    ("invalid-arguments", [], [(2, "messages[1].tool_calls[0].function.arguments", "invalid-arguments", "error")], 1),
    ("arguments-mismatch", [], [(2, "messages[1].tool_calls[0].function.arguments#/unit", "arguments-mismatch",
                                 "error")], 1),
    ("duplicate-call-id", [], [(2, "messages[1].tool_calls[1].id", "duplicate-call-id", "error")], 1),
    ("call-answered-twice", [], [(2, "messages[3].tool_call_id", "call-answered-twice", "error")], 1),
    ("tool-name-mismatch", [], [(2, "messages[2].name", "tool-name-mismatch", "error")], 1),
    ("unanswered-call", [], [(2, "messages[2].role", "unanswered-call", "warning")], 0),
    ("parallel-calls-disallowed", [], [(2, "messages[1].tool_calls", "parallel-calls-disallowed", "error")], 1),
    ("tools-not-rendered", [], [], 0),
    ("tools-not-rendered", ["--template", "chatml"], [(2, "tools", "tools-not-rendered", "error"),
                                                      (2, "messages[1].tool_calls", "tools-not-rendered", "error")], 1),
    ("too-many-calls", ["--template", "qwen2.5"], [], 0),  # qwen2.5 renders parallel calls
    ("too-many-calls", ["--template", "llama3.1"], [(2, "messages[1].tool_calls", "too-many-calls", "error")], 1),
    ("arguments-form", [], [], 0),
    ("arguments-form", ["--template", "qwen2.5"],
     [(2, "messages[1].tool_calls[0].function.arguments", "arguments-form", "error")], 1),
    ("response-not-json", [], [], 0),
    ("response-not-json", ["--response-schema", str(BROKEN / "product.schema.json")],
     [(2, "messages[1].content", "response-not-json", "error")], 1),
    ("response-schema-mismatch", ["--response-schema", str(BROKEN / "product.schema.json")],
     [(2, "messages[1].content#/price", "response-schema-mismatch", "error")], 1),
    ("control-character", [], [(2, "messages[0].content", "control-character", "error")], 1),
    # content parts and images (images/ beside the files: paths are read from the dataset's folder)
    ("invalid-content-part", [], [(2, "messages[0].content[0].type", "invalid-content-part", "error")], 1),
    ("image-count-mismatch", [], [(2, "images", "image-count-mismatch", "error")], 1),
    ("image-not-found", [], [(2, "messages[0].content[0].image", "image-not-found", "error")], 1),
    ("image-unreadable", [], [(2, "messages[0].content[0].image_url.url", "image-unreadable", "error")], 1),
    ("image-size", [], [(2, "messages[0].content[0].path", "image-size", "error")], 1),
    ("extreme-aspect-ratio", [], [(2, "messages[0].content[0].image", "extreme-aspect-ratio", "warning")], 0),
    ("invalid-data-url", [], [(2, "messages[0].content[0].image_url.url", "invalid-data-url", "error")], 1),
    ("remote-image", [], [(2, "messages[0].content[0].image_url.url", "remote-image", "warning")], 0),
    ("parts-not-supported", [], [], 0),  # text parts are valid data
    ("parts-not-supported", ["--template", "smollm2"], [(2, "messages[0].content", "parts-not-supported", "error")], 1),
    ("parts-not-supported", ["--template", "gemma3"], [], 0),  # its template takes parts
    ("remote-image", ["--template", "gemma3"],  # it writes image parts, and nothing for an image_url part
     [(2, "messages[0].content", "parts-not-supported", "error"),
      (2, "messages[0].content[0].image_url.url", "remote-image", "warning")], 1),
    ("parts-required", [], [], 0),
    ("parts-required", ["--template", "smolvlm"], [(2, "messages[1].content", "parts-required", "error")], 1),
    ("remote-image", ["--template", "qwen3.5"], [(1, "messages", "generation-prompt-trained", "warning"),
                                                 (2, "messages", "generation-prompt-trained", "warning"),
                                                 (2, "messages[0].content[0].image_url.url", "remote-image", "warning"),
                                                 (3, "messages", "generation-prompt-trained", "warning")], 0),
    ("no-messages", [], [(2, "messages", "no-messages", "error")], 1),
    ("wrong-type", [], [(2, "messages", "wrong-type", "error")], 1),
    ("special-token-in-content", [], [], 0),
    ("special-token-in-content", ["--template", "chatml"],
     [(2, "messages[0].content", "special-token-in-content", "error"),
      (2, "messages[0].content", "special-token-in-content", "error")], 1),
    ("duplicate", [], [(3, "messages", "duplicate", "warning"), (4, "messages", "near-duplicate", "warning")], 0),
    ("prompt-not-open", [], [(2, "prompt[1].role", "prompt-not-open", "error")], 1),
    ("prompt-not-open", ["--reward-columns", "answer:integer"],
     [(1, "answer", "wrong-type", "error"), (2, "prompt[1].role", "prompt-not-open", "error"),
      (2, "answer", "wrong-type", "error"), (3, "answer", "wrong-type", "error")], 1),
    ("fuzzy-duplicate", [], [], 0),  # (a corpus check: asked for)
    ("fuzzy-duplicate", ["--near-dup"], [(2, "messages", "fuzzy-duplicate", "error")], 1),
    ("benchmark-overlap", [], [], 0),
    ("benchmark-overlap", ["--decontaminate", str(BROKEN / "benchmark.json")],
     [(2, "messages", "benchmark-overlap", "error")], 1),  # (row 3 is in it too, but under 13 words)
    ("bom-blank-crlf", [], [], 0),
    ("unclosed-think", [], [(2, "messages[1].content", "unclosed-think", "error")], 1),
    ("unbalanced-think", [], [(2, "messages[1].content", "unbalanced-think", "error")], 1),
    ("text-before-think", [], [(2, "messages[1].content", "text-before-think", "warning")], 0),
    ("reasoning-twice", [], [(2, "messages[1].reasoning_content", "reasoning-twice", "error")], 1),
    ("reasoning-dropped", [], [], 0),
    ("reasoning-dropped", ["--template", "chatml"], [(2, "messages", "reasoning-dropped", "warning")], 0),
    ("reasoning-dropped", ["--template", "qwen3"], [], 0),  # qwen3 prints reasoning_content
    ("history-reasoning-dropped", [], [], 0),
    ("history-reasoning-dropped", ["--template", "glm4-moe"],
     [(2, "messages", "history-reasoning-dropped", "warning")], 0),
    ("history-reasoning-dropped", ["--template", "qwen3"], [], 0),  # its training variant keeps it
    ("empty-think-supervised", [], [], 0),
    ("empty-think-supervised", ["--template", "qwen3"], [(2, "messages", "empty-think-supervised", "warning")], 0),
    ("empty-think-supervised", ["--template", "qwen2.5"], [], 0),
    ("generation-prompt-trained", [], [], 0),
    ("generation-prompt-trained", ["--template", "deepseek-r1-distill"],
     [(2, "messages", "generation-prompt-trained", "warning")], 0),
    # preference pairs (formats detected: preference, preference-implicit, hh-text)
    ("completion-not-assistant", [], [(2, "rejected[0].role", "completion-not-assistant", "error")], 1),
    ("empty-completion", [], [(2, "rejected", "empty-completion", "error")], 1),
    ("identical-pair", [], [(2, "rejected", "identical-pair", "error")], 1),
    ("near-identical-pair", [], [(2, "rejected", "near-identical-pair", "warning")], 0),
    ("no-shared-prompt", [], [(2, "rejected[0]", "no-shared-prompt", "error")], 1),
    ("prompt-mismatch", [], [(2, "chosen[2].role", "prompt-mismatch", "error")], 1),
    ("not-a-transcript", [], [(2, "chosen", "not-a-transcript", "error")], 1),
    ("reply-shares-start", [], [(2, "rejected", "reply-shares-start", "warning")], 0),
    ("column-clash", [], [], 0),
    ("column-clash", ["--map", "body=text"], [(2, "body", "column-clash", "error")], 1),
    # a training check: every row lacks a reply or ends with the user; render's prompts take them (below)
    ("reply-in-prompt", [], [(1, "messages", "no-assistant-turn", "error"),
                             (1, "messages[0].role", "trailing-user-turn", "warning"),
                             (3, "messages", "no-assistant-turn", "error"),
                             (3, "messages[0].role", "trailing-user-turn", "warning")], 1),
]


@pytest.mark.parametrize(("name", "args", "expected", "code"), CASES,
                         ids=[f"{c[0]}{'-' + '-'.join(a for a in c[1] if not a.startswith('/')) if c[1] else ''}"
                              for c in CASES])
def test_validate_reports_each_defect_on_its_row_with_path_and_code(cli, name, args, expected, code):
    result = cli("validate", BROKEN / f"{name}.jsonl", "--json", *args)
    report = result.json()
    got = [(i["row"], i["path"], i["code"], i["severity"]) for i in report["issues"]]
    assert got == expected
    assert result.code == code
    assert report["rows"] == (4 if name == "duplicate" else 2 if name == "bom-blank-crlf" else 3)
    assert report["invalid"] == len({row for row, _, _, level in expected if level == "error"})


def test_every_issue_message_says_what_is_wrong(cli):
    for path in sorted(BROKEN.glob("*.jsonl")):
        for issue in cli("validate", path, "--json", "--template", "chatml").json()["issues"]:
            assert issue["message"].strip(), (path.name, issue)


def test_too_long_counts_characters_without_a_tokenizer(cli):
    report = cli("validate", BROKEN / "trailing-user-turn.jsonl", "--json", "--max-length", "12").json()
    too_long = [(i["row"], i["message"]) for i in report["issues"] if i["code"] == "too-long"]
    assert too_long == [(1, "20 characters > max length 12"), (3, "20 characters > max length 12")]
    assert report["length_unit"] == "characters"


def test_too_long_counts_tokens_of_the_template_render_whichever_way_the_tokenizer_is_given(
        cli, smollm2_tokenizer, tmp_path):
    import json

    from validation import validate

    source = BROKEN / "trailing-user-turn.jsonl"
    rows = [json.loads(line)["messages"] for line in source.read_text().splitlines()]
    official = [len(smollm2_tokenizer(smollm2_tokenizer.apply_chat_template(m, tokenize=False),
                                      add_special_tokens=False)["input_ids"]) for m in rows]
    expected = [(row, f"{n} tokens > max length 20") for row, n in enumerate(official, 1) if n > 20]
    assert len(expected) == 3  # SmolLM2's default system prompt alone is longer than 20 tokens
    smollm2_tokenizer.save_pretrained(tmp_path / "tok")

    def too_long(issues: list[dict]) -> list[tuple[int, str]]:
        return [(i["row"], i["message"]) for i in issues if i["code"] == "too-long"]

    report = cli("validate", source, "--json", "--template", "smollm2", "--max-length", "20",
                 "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct").json()
    assert too_long(report["issues"]) == expected and report["length_unit"] == "tokens"
    from templating import load_tokenizer

    for tokenizer in (smollm2_tokenizer, load_tokenizer(tmp_path / "tok", chat_template=False),
                      load_tokenizer(str(tmp_path / "tok" / "tokenizer.json"))):
        found = validate(source, tokenizer=tokenizer, template=get_template("smollm2"), max_length=20).to_json()
        assert too_long(found["issues"]) == expected, tokenizer


def test_a_tokenizer_path_that_does_not_exist_is_one_clear_line(cli, tmp_path):
    missing = tmp_path / "no-tokenizer"
    for command in ("validate", "stats"):
        result = cli(command, BROKEN / "duplicate.jsonl", "--tokenizer", missing, "--max-length", "5")
        assert result.code == 2 and f"{missing}: no such file or folder" in result.err
        assert "Traceback" not in result.err and "internal error" not in result.err


def test_write_clean_writes_exactly_the_valid_lines_unchanged(cli, tmp_path):
    source = BROKEN / "null-content.jsonl"
    out = tmp_path / "clean.jsonl"
    assert cli("validate", source, "--json", "--write-clean", out).code == 1
    lines = source.read_bytes().splitlines(keepends=True)
    assert out.read_bytes() == lines[0] + lines[2]


def test_write_clean_keeps_rows_with_warnings_only(cli, tmp_path):
    out = tmp_path / "clean.jsonl"
    assert cli("validate", BROKEN / "duplicate.jsonl", "--json", "--write-clean", out).code == 0
    assert out.read_bytes() == (BROKEN / "duplicate.jsonl").read_bytes()


@pytest.mark.parametrize("command", ["validate", "stats", "audit"])
@pytest.mark.parametrize("value, says", [("0", "0 is less than 1"), ("-3", "-3 is less than 1"),
                                         ("1e3", "'1e3' is not a whole number")])
def test_a_max_length_that_is_not_a_positive_whole_number_is_refused(cli, command, value, says):
    extra = ["--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct"] if command == "audit" else []
    result = cli(command, BROKEN / "duplicate.jsonl", "--max-length", value, *extra)
    assert result.code == 2 and f"argument --max-length: {says}" in result.err


def test_the_python_api_refuses_such_a_max_length_too(smollm2_tokenizer):
    from functools import partial

    from templating import audit
    from validation import stats, validate
    from validation.errors import InputError
    for function in (validate, stats, partial(audit, tokenizer=smollm2_tokenizer, template=get_template("smollm2"))):
        for value in (0, -3, 2.5, True):
            with pytest.raises(InputError, match=f"max_length must be a positive whole number, not {value!r}"):
                function(BROKEN / "duplicate.jsonl", max_length=value)

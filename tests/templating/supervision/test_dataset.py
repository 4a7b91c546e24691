"""templating/supervision/dataset.py: the audit as a report of a dataset: findings at the source row's own
paths, the summary, the CLI, and stats reusing the audit."""

from __future__ import annotations

import json

import pytest

from templating import get_template
from templating.supervision.conversations import Auditor
from templating import audit


def chat(*turns: str, system: str | None = None) -> dict:
    roles = ["user", "assistant"] * len(turns)
    messages = [{"role": "system", "content": system}] if system else []
    return {"messages": messages + [{"role": r, "content": c} for r, c in zip(roles, turns)]}


LONG = "word " * 60  # about 60 tokens


def rows() -> list[dict]:
    return [chat("Hi", "Hello!"),                                      # 1 clean
            chat("Say it", "The end is <|endoftext|> here"),           # 2 a tokenizer special token in content
            chat("Q1", "A1", "Q2", LONG),                              # 3 the last reply partly cut at 40
            chat(LONG, "short"),                                       # 4 nothing trained survives truncation
            chat("Q1", "A1", LONG, "wholly gone")]                     # 5 the last reply wholly cut


def issues(report) -> list[tuple[int, str, str]]:
    return [(i.row, i.path, i.code) for i in report.issues]


def test_audit_reports_each_defect_on_its_row_and_path(smollm2_tokenizer):
    report = audit(rows(), tokenizer=smollm2_tokenizer, template=get_template("chatml"), max_length=40)
    assert issues(report) == [
        (2, "messages[1].content", "special-token-in-content"),
        (3, "messages[3].content", "response-truncated"),
        (4, "messages[1].content", "response-truncated"),
        (4, "messages", "truncated-to-nothing"),
        (5, "messages[3].content", "response-truncated"),
    ]
    messages = {i.row: i.message for i in report.issues if i.code == "response-truncated"}
    assert messages[3].startswith("partly cut") and messages[5].startswith("wholly cut")
    assert (report.rows, report.valid, report.invalid) == (5, 3, 2)
    assert report.summary["rows_with"] == {"response-truncated": 3, "special-token-in-content": 1,
                                           "truncated-to-nothing": 1}


def test_paths_are_the_source_format_s_own(gsm8k, smollm2_tokenizer):
    report = audit(gsm8k, tokenizer=smollm2_tokenizer, template=get_template("smollm2"), max_length=256)
    assert report.rows == 1319 and report.ok
    assert {i.path for i in report.issues} == {"answer"}
    assert report.counts() == {"response-truncated": 342}
    assert report.summary["supervised_tokens"] == 170244


def test_audit_cli(cli, tmp_path):
    path = tmp_path / "rows.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    result = cli("audit", path, "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct", "--template", "chatml",
                 "--max-length", "40", "--json")
    assert result.code == 1
    body = result.json()
    assert [(i["row"], i["code"]) for i in body["issues"]][:2] == [(2, "special-token-in-content"),
                                                                  (3, "response-truncated")]
    assert body["summary"]["rows_with"]["truncated-to-nothing"] == 1
    assert cli("audit", path, "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct").code == 1
    per_row = tmp_path / "rows.audit.jsonl"
    cli("audit", path, "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct", "--template", "chatml", "--max-length",
        "40", "--per-row", per_row)
    lines = [json.loads(line) for line in per_row.read_text().splitlines()]
    assert [line["row"] for line in lines] == [1, 2, 3, 4, 5]
    assert lines[0] == {"row": 1, "tokens": 14, "supervised_tokens": 4, "supervised_after_truncation": 4,
                        "dropped": False, "codes": []}
    assert lines[3]["supervised_after_truncation"] == 0 and lines[3]["codes"] == ["response-truncated",
                                                                                  "truncated-to-nothing"]
    missing = cli("audit", tmp_path / "none.jsonl", "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct")
    assert missing.code == 2 and "none.jsonl" in missing.err


def test_stats_reports_supervision_counts(smollm2_tokenizer):
    from validation import stats

    summary = stats(rows(), tokenizer=smollm2_tokenizer, template=get_template("chatml")).summary
    assert summary["supervision"]["rows_with"] == {"special-token-in-content": 1}
    assert summary["supervision"]["supervised_tokens"] == summary["tokens"]["trainable"]


def test_audit_cli_with_a_bare_tokenizer_json_needs_a_template(cli, tmp_path, smollm2_tokenizer):
    smollm2_tokenizer.save_pretrained(tmp_path / "tok")
    data = tmp_path / "rows.jsonl"
    data.write_text(json.dumps(chat("Hi", "Hello!")) + "\n")
    bare = tmp_path / "tok" / "tokenizer.json"
    missing = cli("audit", data, "--tokenizer", bare)
    assert missing.code == 2 and "has no chat template; name one with --template" in missing.err
    result = cli("audit", data, "--tokenizer", bare, "--template", "chatml", "--json")
    assert result.code == 0 and result.json()["summary"]["supervised_tokens"] == 4  # Hello, !, <|im_end|>, \n
    folder = cli("audit", data, "--tokenizer", tmp_path / "tok", "--json")  # a folder: its own template
    assert folder.code == 0 and folder.json()["template"] == "smollm2"


def test_stats_cli_shows_the_audit_counts(cli, tmp_path):
    data = tmp_path / "rows.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in rows()))
    result = cli("stats", data, "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct", "--template", "chatml",
                 "--json", "-")
    assert json.loads(result.out)["supervision"]["rows_with"] == {"special-token-in-content": 1}
    assert "special-token-in-content 1" in cli("stats", data, "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct",
                                               "--template", "chatml").out.replace("\n", " ")


def test_stats_reuses_a_given_audit_with_the_same_result(smollm2_tokenizer):
    from validation import stats

    audits = Auditor(smollm2_tokenizer, get_template("chatml")).audit([r["messages"] for r in rows()])
    fresh = stats(rows(), tokenizer=smollm2_tokenizer, template=get_template("chatml"), max_length=40).summary
    reused = stats(rows(), tokenizer=smollm2_tokenizer, template=get_template("chatml"), max_length=40, audits=audits).summary
    assert reused == fresh


# The broken-rows corpus (tests/data/broken) for the codes only the audit finds: file, template,
# max_length, expected (row, path, code, severity).
AUDIT_CASES = [
    ("reasoning-truncated", "qwen3", 40, [(2, "messages[1].content", "reasoning-truncated", "warning")]),
    ("reasoning-truncated", "qwen3", 200, []),
    ("no-trained-turn", "chatml", 40, [(2, "messages", "no-trained-turn", "warning")]),
    # preference pairs: what DPO compares (templating/supervision/pairs.py)
    ("prompt-fills-max-length", "chatml", 40, [(2, "prompt", "prompt-fills-max-length", "error")]),
    ("reply-truncated", "chatml", 40, [(2, "chosen", "reply-truncated", "warning")]),
    ("identical-after-truncation", "chatml", 25, [(2, "chosen", "reply-truncated", "warning"),
                                                  (2, "rejected", "reply-truncated", "warning"),
                                                  (2, "rejected", "identical-after-truncation", "error")]),
    ("identical-after-truncation", "chatml", 200, []),
    # llama3's generation prompt ends in "\n\n", which SmolLM2's tokenizer merges with the reply's first word
    ("boundary-merge", "llama3", 200, [(row, "prompt", "boundary-merge", "warning") for row in (1, 2, 3)]),
    ("boundary-merge", "chatml", 200, []),
]


@pytest.mark.parametrize(("name", "template", "max_length", "expected"), AUDIT_CASES)
def test_audit_reports_each_corpus_defect_on_its_row(cli, name, template, max_length, expected):
    from tests.conftest import DATA

    result = cli("audit", DATA / "broken" / f"{name}.jsonl", "--tokenizer", "HuggingFaceTB/SmolLM2-135M-Instruct",
                 "--template", template, "--max-length", str(max_length), "--json")
    report = result.json()
    assert [(i["row"], i["path"], i["code"], i["severity"]) for i in report["issues"]] == expected
    errors = any(severity == "error" for *_, severity in expected)
    assert report["rows"] == 3 and result.code == (1 if errors else 0)


def test_a_cut_inside_the_think_block_says_how_much_is_trained_and_a_cut_after_it_is_a_response_cut(
        smollm2_tokenizer):
    thought = "Seven sixes are forty-two, as six sevens are. " * 3
    row = {"messages": [{"role": "user", "content": "7*6?"},
                        {"role": "assistant",
                         "content": f"<think>\n{thought}\n</think>\n\n" + "The answer is 42. " * 8}]}
    template = get_template("deepseek-r1-distill")
    rendered = template.render(row["messages"])
    encoding = smollm2_tokenizer(rendered.text, add_special_tokens=False, return_offsets_mapping=True)
    close = rendered.text.index("</think>")
    inside = next(i for i, (a, _) in enumerate(encoding["offset_mapping"]) if a >= close) - 1  # cuts before it
    after = next(i for i, (a, _) in enumerate(encoding["offset_mapping"]) if a >= close + len("</think>\n\n"))
    report = audit([row], tokenizer=smollm2_tokenizer, template=get_template("deepseek-r1-distill"), max_length=inside)
    cuts = ("reasoning-truncated", "response-truncated")  # (its BOS is not SmolLM2's: missing-bos too)
    [issue] = [i for i in report.issues if i.code in cuts]
    kept = encoding["offset_mapping"][inside][0] - rendered.assistant_spans[0][0]
    assert (issue.code, issue.path) == ("reasoning-truncated", "messages[1].content")
    assert f"the {kept} characters trained end in reasoning, with no </think>" in issue.message
    report = audit([row], tokenizer=smollm2_tokenizer, template=get_template("deepseek-r1-distill"), max_length=after + 2)
    assert [i.code for i in report.issues if i.code in cuts] == ["response-truncated"]


def test_the_pair_audit_measures_what_dpo_is_handed(smollm2_tokenizer):
    """Prompt and reply tokens of the audit are the ids the DPO preparation hands TRL; the merge
    message names the prompt's tokens that training does not see."""
    from templating.supervision.pairs import audit_pairs
    from training.preference import prepare
    from validation.models import Message, Preference

    pair = Preference(prompt=[Message(role="user", content="Hi")], chosen=[Message(role="assistant", content="Hello!")],
                      rejected=[Message(role="assistant", content="Go away.")])
    template = get_template("llama3")
    [row] = audit_pairs([pair], smollm2_tokenizer, template, 200)
    [prepared] = prepare([pair], smollm2_tokenizer, template, 200)
    assert row.ids == prepared["prompt_ids"] + prepared["chosen_ids"] + prepared["rejected_ids"]
    assert sum(row.mask) == len(prepared["chosen_ids"]) + len(prepared["rejected_ids"])
    [finding] = row.findings
    assert finding.text.startswith("the prompt's last 1 token(s) ('\\n\\n') merge with the reply's first")


def test_a_pair_whose_replies_lack_the_end_of_turn_is_an_error(smollm2_tokenizer):
    """A template that writes no end-of-turn after the assistant's reply: DPO would not teach stopping."""
    from templating.supervision.pairs import audit_pairs
    from templating.registry import ChatTemplate
    from templating.spec import TemplateSpec
    from validation.models import Message, Preference

    text = ("{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}{% if m.role != 'assistant' %}"
            "<|im_end|>\n{% endif %}{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
    spec = TemplateSpec(name="no-eot", special_tokens=("<|im_start|>", "<|im_end|>"), end_of_turn="<|im_end|>",
                        generation_prompt="<|im_start|>assistant\n", official=text, training=text)
    pair = Preference(prompt=[Message(role="user", content="Hi")], chosen=[Message(role="assistant", content="Hello!")],
                      rejected=[Message(role="assistant", content="Go away.")])
    [row] = audit_pairs([pair], smollm2_tokenizer, ChatTemplate(spec))
    assert [(f.field, f.code) for f in row.findings] == [("chosen", "end-of-turn-not-supervised"),
                                                         ("rejected", "end-of-turn-not-supervised")]
    [clean] = audit_pairs([pair], smollm2_tokenizer, get_template("chatml"))
    assert clean.findings == []


def test_prompts_over_max_prompt_length_keep_their_end(cli):
    """The corpus row whose prompt fills max_length 40 fits once its prompt keeps its last 20 tokens."""
    from tests.conftest import DATA

    result = cli("audit", DATA / "broken" / "prompt-too-long.jsonl", "--tokenizer",
                 "HuggingFaceTB/SmolLM2-135M-Instruct", "--template", "chatml", "--max-length", "40",
                 "--max-prompt-length", "20", "--json")
    issues = result.json()["issues"]
    assert [(i["row"], i["path"], i["code"], i["severity"]) for i in issues] == [
        (2, "prompt", "prompt-too-long", "warning")]
    assert issues[0]["message"].endswith("max_prompt_length 20: training keeps its last 20 (the first 63 are cut)")
    assert result.code == 0

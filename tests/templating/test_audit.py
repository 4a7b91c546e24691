"""The supervision audit with the real SmolLM2 tokenizer: exact rows, paths and codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from templating import get_template, register_template
from templating.audit import Auditor
from templating.rules import rules_of
from validation import audit

TEMPLATES = Path(__file__).parents[1] / "data" / "templates"


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
    report = audit(rows(), tokenizer=smollm2_tokenizer, template="chatml", max_length=40)
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


def test_supervised_tokens_are_the_reply_and_its_end_of_turn(smollm2_tokenizer):
    result = Auditor(smollm2_tokenizer, get_template("chatml")).audit([chat("Hi", "Hello!")["messages"]])[0]
    trained = smollm2_tokenizer.decode([t for t, m in zip(result.ids, result.mask) if m])
    assert (trained, result.findings) == ("Hello!<|im_end|>\n", [])


def test_over_length_policies(smollm2_tokenizer):
    data = [chat("Q1", "A1", "Q2", "A2", "Q3 " + "x " * 20, "A3"), chat("Hi", "Hello!")]
    def run(policy):
        return audit(data, tokenizer=smollm2_tokenizer, template="chatml", max_length=40, over_length=policy)

    drop = run("drop")
    assert issues(drop) == [(1, "messages", "too-long")] and drop.summary["rows_dropped"] == 1
    assert issues(run("raise")) == [(1, "messages", "over-length")]
    fitted = Auditor(smollm2_tokenizer, get_template("chatml"), 40, "truncate-prompt").audit([data[0]["messages"]])[0]
    assert [m.content for m in fitted.messages] == ["Q3 " + "x " * 20, "A3"]
    assert len(fitted.ids) <= 40 and not fitted.dropped
    assert fitted.findings[0].code == "too-long" and "the 4 oldest messages are dropped" in fitted.findings[0].text


def test_truncate_prompt_keeps_the_system_prompt(smollm2_tokenizer):
    messages = chat("Q1", "A1 " * 10, "Q2", "A2", system="Be brief.")["messages"]
    fitted = Auditor(smollm2_tokenizer, get_template("chatml"), 30, "truncate-prompt").audit([messages])[0]
    assert [m.content for m in fitted.messages] == ["Be brief.", "Q2", "A2"]


def test_broken_templates_are_caught_with_their_codes(smollm2_tokenizer):
    chatml = get_template("chatml")
    common = {"special_tokens": chatml.spec.special_tokens, "end_of_turn": "<|im_end|>",
              "generation_prompt": "<|im_start|>assistant\n", "replace": True}
    no_eot = register_template("audit-no-eot", TEMPLATES / "no_eot_in_mask.jinja",
                               training_jinja=TEMPLATES / "no_eot_in_mask.jinja", **common)
    double = register_template("audit-double-bos", TEMPLATES / "double_bos.jinja",
                               training_jinja=TEMPLATES / "double_bos.jinja", bos_token="<|endoftext|>", **common)
    stock = register_template("audit-no-spans", chatml.official_jinja, **common)  # no {% generation %}
    data = [chat("Hi", "Hello!", "Bye", "Ciao")]
    codes = {t.name: issues(audit(data, tokenizer=smollm2_tokenizer, template=rules_of(t)))
             for t in (no_eot, double, stock)}
    assert codes == {
        "audit-no-eot": [(1, "messages[1].content", "end-of-turn-not-supervised"),
                         (1, "messages[3].content", "end-of-turn-not-supervised")],
        "audit-double-bos": [(1, "messages", "double-bos")],
        "audit-no-spans": [(1, "messages[1].content", "response-not-supervised"),
                           (1, "messages[3].content", "response-not-supervised")]}


def test_a_bos_the_tokenizer_lacks_is_a_warning(smollm2_tokenizer):
    report = audit([chat("Hi", "Hello!")], tokenizer=smollm2_tokenizer, template="llama3")
    assert issues(report) == [(1, "messages", "missing-bos")] and report.ok


def test_paths_are_the_source_format_s_own(gsm8k, smollm2_tokenizer):
    report = audit(gsm8k, tokenizer=smollm2_tokenizer, template="smollm2", max_length=256)
    assert report.rows == 1319 and report.ok
    assert {i.path for i in report.issues} == {"answer"}
    assert report.counts() == {"response-truncated": 342}
    assert report.summary["supervised_tokens"] == 170244


def test_every_registry_template_supervises_every_reply_and_its_end_of_turn(smollm2_tokenizer):
    from templating.builtins import BUILTINS

    data = [chat("Hi", "Hello!", "Bye", "Ciao")]
    for spec in BUILTINS:
        codes = {i.code for i in audit(data, tokenizer=smollm2_tokenizer, template=spec.name).issues}
        assert codes <= {"missing-bos"}, spec.name  # other families' BOS is not a SmolLM2 token


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

    summary = stats(rows(), tokenizer=smollm2_tokenizer, template="chatml").summary
    assert summary["supervision"]["rows_with"] == {"special-token-in-content": 1}
    assert summary["supervision"]["supervised_tokens"] == summary["tokens"]["trainable"]


@pytest.mark.parametrize("policy", ["truncate", "truncate-prompt", "drop", "raise"])
def test_the_audit_never_changes_rows_that_fit(smollm2_tokenizer, policy):
    result = Auditor(smollm2_tokenizer, get_template("smollm2"), 512, policy).audit([chat("Hi", "Hello!")["messages"]])
    assert (result[0].findings, result[0].dropped, len(result[0].messages)) == ([], False, 2)


from hypothesis import assume, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from tests.strategies import conversations  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(conversations(max_turns=5), st.integers(8, 80))
def test_truncate_prompt_keeps_the_system_prompt_and_the_last_reply_and_fits_when_it_can(smollm2_tokenizer, messages,
                                                                                       limit):
    template = get_template("chatml")
    result = Auditor(smollm2_tokenizer, template, limit, "truncate-prompt").audit([messages])[0]
    kept = [m.to_dict() for m in result.messages]
    assert kept[-1] == messages[-1]  # the last reply is never dropped
    assert (kept[0] == messages[0]) if messages[0]["role"] == "system" else kept[0]["role"] == "user"
    assert messages[len(messages) - len(kept) + (messages[0]["role"] == "system"):] == \
        kept[messages[0]["role"] == "system":]  # a suffix of whole exchanges
    last_exchange = messages[:1] * (messages[0]["role"] == "system") + messages[-2:]
    fits = len(Auditor(smollm2_tokenizer, template).audit([last_exchange])[0].ids) <= limit
    assert len(result.ids) <= limit or not fits or len(kept) == len(last_exchange)


@settings(max_examples=60, deadline=None)
@given(conversations())
def test_supervised_tokens_decode_to_the_replies_and_their_end_of_turn(smollm2_tokenizer, messages):
    """Exact when replies start with a visible ASCII character: a token may otherwise hold the
    header's newline and the reply's first bytes together (then it is in the mask, as in HF's):
    each reply gets one in front, rather than most examples being filtered out."""
    messages = [{**m, "content": "A" + m["content"]} if m["role"] == "assistant" else m for m in messages]
    replies = [m["content"] for m in messages if m["role"] == "assistant"]
    assume(all(smollm2_tokenizer.decode(smollm2_tokenizer.encode(r, add_special_tokens=False)) == r
               for r in replies))  # characters the byte-level vocabulary cannot spell decode as U+FFFD
    assume(not any(c in m["content"] for m in messages for c in ("<|im_start|>", "<|im_end|>", "<|endoftext|>")))
    result = Auditor(smollm2_tokenizer, get_template("smollm2")).audit([messages])[0]
    assert [f for f in result.findings if f.code != "special-token-in-content"] == []
    trained = smollm2_tokenizer.decode([t for t, m in zip(result.ids, result.mask) if m])
    expected = "".join(m["content"] + "<|im_end|>\n" for m in messages if m["role"] == "assistant")
    assert trained == expected


def test_findings_after_truncate_prompt_point_at_the_original_messages(smollm2_tokenizer):
    messages = chat("Q1", "A1", "Q2", "tail " * 60)["messages"]
    result = Auditor(smollm2_tokenizer, get_template("chatml"), 30, "truncate-prompt").audit([messages])[0]
    assert [(f.path, f.code) for f in result.findings] == [("messages", "too-long"), ("messages[3].content", "response-truncated")]


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
    fresh = stats(rows(), tokenizer=smollm2_tokenizer, template="chatml", max_length=40).summary
    reused = stats(rows(), tokenizer=smollm2_tokenizer, template="chatml", max_length=40, audits=audits).summary
    assert reused == fresh

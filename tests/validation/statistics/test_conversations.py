"""Statistics: exact numbers on hand-made data and on gsm8k, the pictures, compare, the CLI."""

from __future__ import annotations

import json
import statistics

import pytest

from validation import stats
from validation.statistics.conversations import leakage
from templating import get_template
from templating.embedded import load_tokenizer

U, A, S = "user", "assistant", "system"


def conv(*turns, **extra):
    return {"messages": [{"role": r, "content": c} for r, c in turns], **extra}


HAND = [
    conv((S, "Be brief."), (U, "aaaa"), (A, "bbbbbbbbbb")),          # chars: 9, 4, 10
    conv((U, "cc"), (A, "dddddd"), (U, "e"), (A, "ffffffffffffffff")),  # 2, 6, 1, 16
    conv((S, "Be brief."), (U, "aaaa"), (A, "bbbbbbbbbb")),          # exact duplicate of row 1
    conv((S, "be  brief."), (U, "AAAA "), (A, "bbbbbbbbbb")),        # normalised duplicate of row 1
    conv((U, ""), (A, "   ")),                                       # empty and whitespace-only
]


def test_hand_made_dataset_numbers():
    s = stats(HAND, max_length=14).summary
    assert (s["rows"], s["skipped_rows"], s["messages"]) == (5, 0, 15)
    assert s["roles"] == {"user": 6, "assistant": 6, "system": 3}
    assert s["turns_per_conversation"]["histogram"] == {"2": 1, "3": 3, "4": 1}
    assert (s["turns_per_conversation"]["min"], s["turns_per_conversation"]["max"]) == (2, 4)
    # assistant lengths 10, 6, 16, 10, 10, 3 -> sorted 3 6 10 10 10 16; linear p50 = 10, p90 = 13, p99 = 15.7
    assert s["length_chars"]["assistant"] == {"p50": 10.0, "p90": 13.0, "p99": 15.7, "max": 16, "mean": 9.167}
    assert s["duplicates"] == {"exact": 1, "normalised": 2}
    assert (s["empty_messages"], s["whitespace_messages"]) == (1, 1)
    assert s["system_prompts"] == {"conversations_with_system": 3, "distinct": 2,
                                   "top": [{"prompt": "Be brief.", "count": 2}, {"prompt": "be  brief.", "count": 1}]}
    # lengths (chars): 23, 25, 23, 25, 3. Over 14: four rows. Row 1 assistant spans 13-23: loses part;
    # row 2: assistant 2-8 kept, 9-25 lost -> loses some, not all; row 4 (10+5+10) assistant 15-25: loses all.
    assert s["max_length"] == {"limit": 14, "unit": "chars", "over": 4, "lose_assistant_tokens": 4,
                               "lose_all_assistant_tokens": 1}


def test_rows_that_cannot_be_normalised_are_counted_as_skipped():
    rows = [HAND[0], {"messages": "not a list"}, {"messages": [{"role": "user", "content": 3}]}]
    s = stats(rows, format="messages").summary
    assert (s["rows"], s["skipped_rows"]) == (1, 2)


def test_polars_and_python_readers_build_the_same_frame(tmp_path):
    path = tmp_path / "hand.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in HAND))
    assert stats(path).frame.equals(stats(HAND).frame)
    assert stats(path).summary == stats(HAND).summary


def test_gsm8k_character_numbers_match_an_independent_computation(gsm8k):
    rows = [json.loads(line) for line in gsm8k.read_text(encoding="utf-8").splitlines()]
    s = stats(gsm8k).summary
    assert (s["rows"], s["messages"], s["roles"]) == (1319, 2638, {"user": 1319, "assistant": 1319})
    for role, field in (("user", "question"), ("assistant", "answer")):
        lengths = [len(r[field]) for r in rows]
        quartiles = statistics.quantiles(lengths, n=100, method="inclusive")
        assert s["length_chars"][role]["p50"] == pytest.approx(statistics.median(lengths))
        assert s["length_chars"][role]["p90"] == pytest.approx(quartiles[89])
        assert s["length_chars"][role]["max"] == max(lengths)
    assert s["duplicates"] == {"exact": 0, "normalised": 0}


@pytest.mark.parametrize("batch", [4096, 100])  # one batch; 14 with a remainder
def test_gsm8k_trainable_tokens_match_transformers_rendering(gsm8k, smollm2_tokenizer, monkeypatch, batch):
    import copy
    import importlib


    monkeypatch.setattr(importlib.import_module("validation.statistics.summary"), "AUDIT_BATCH", batch)  # the module
    rows = [json.loads(line) for line in gsm8k.read_text(encoding="utf-8").splitlines()]
    s = stats(gsm8k, tokenizer=smollm2_tokenizer, template=get_template("smollm2"), max_length=256).summary
    tokenizer = copy.copy(smollm2_tokenizer)
    tokenizer.chat_template = get_template("smollm2").jinja
    encoded = [tokenizer.apply_chat_template([{"role": "user", "content": r["question"]},
                                              {"role": "assistant", "content": r["answer"]}],
                                             return_dict=True, return_assistant_tokens_mask=True) for r in rows]
    total = sum(len(e["input_ids"]) for e in encoded)
    trainable = sum(sum(e["assistant_masks"]) for e in encoded)
    assert (s["tokens"]["total"], s["tokens"]["trainable"], s["tokens"]["method"]) == (total, trainable, "template")
    assert s["max_length"]["over"] == sum(len(e["input_ids"]) > 256 for e in encoded)
    assert s["max_length"]["lose_assistant_tokens"] == sum(sum(e["assistant_masks"][256:]) > 0 for e in encoded)
    assert s["max_length"]["lose_all_assistant_tokens"] == sum(sum(e["assistant_masks"][:256]) == 0 for e in encoded)
    assert s["supervision"]["supervised_tokens"] == trainable and s["supervision"]["rows"] == len(rows)
    assert (total, trainable, s["max_length"]["over"]) == (291591, 170244, 342)


def test_long_work_shows_progress_on_a_terminal(gsm8k, monkeypatch):
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    terminal = Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    stats(gsm8k, tokenizer=load_tokenizer("HuggingFaceTB/SmolLM2-135M-Instruct"), template=get_template("smollm2"), progress=True)
    shown = terminal.getvalue()
    assert "counting tokens" in shown and "2638/2638" in shown  # messages
    assert "rendering and tokenizing with smollm2" in shown and "1319/1319" in shown  # conversations
    monkeypatch.setattr(sys, "stderr", quiet := Terminal())
    stats(gsm8k, tokenizer=load_tokenizer("HuggingFaceTB/SmolLM2-135M-Instruct"), template=get_template("smollm2"))
    assert quiet.getvalue() == ""


def test_png_and_html_are_written_and_hold_the_histograms(tmp_path, gsm8k):
    result = stats(gsm8k, max_length=900)
    png = result.plot(tmp_path / "lengths.png")
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    import matplotlib.image

    height, width, _ = matplotlib.image.imread(png).shape
    assert (width, height) == (1210, 440)
    page = result.plot(tmp_path / "report.html").read_text(encoding="utf-8")
    assert page.count('src="data:image/png;base64,') == 1 and "<th>conversations</th><td>1,319</td>" in page


def test_rows_from_a_one_shot_iterator_are_all_counted():
    """Format detection reads the first 200 rows; they are used, not read again (and lost)."""
    rows = [{"question": f"q{i}", "answer": "a"} for i in range(250)]
    s = stats(iter(rows)).summary
    assert (s["rows"], s["messages"], s["duplicates"]["exact"]) == (250, 500, 0)


def test_reading_row_by_row_shows_progress_on_a_terminal(gsm8k, tmp_path, monkeypatch):
    import gzip
    import io
    import sys

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    packed = tmp_path / "test.jsonl.gz"
    packed.write_bytes(gzip.compress(gsm8k.read_bytes()))
    monkeypatch.setattr(sys, "stderr", terminal := Terminal())
    assert stats(packed, progress=True).summary["rows"] == 1319
    assert "reading test.jsonl.gz" in terminal.getvalue()


def test_html_lists_the_system_prompts_escaped(tmp_path):
    rows = [{"messages": [{"role": "system", "content": prompt}, {"role": "user", "content": "u"},
                          {"role": "assistant", "content": "a"}]} for prompt in ("<b>Be & brief</b>", "x", "x")]
    page = stats(rows).plot(tmp_path / "report.html").read_text(encoding="utf-8")
    assert ("<h2>most common system prompts</h2><table><tr><th>count</th><th>prompt</th></tr>"
            "<tr><td>2</td><td>x</td></tr><tr><td>1</td><td>&lt;b&gt;Be &amp; brief&lt;/b&gt;</td></tr></table>") in page


def test_compare_counts_rows_of_b_that_repeat_rows_of_a():
    a, b = stats(HAND[:2]), stats([HAND[2], HAND[3], HAND[4]])
    assert leakage(a, b) == {"b_rows_in_a_exact": 1, "b_rows_in_a_normalised": 2}


def test_cli_stats_json_and_compare(cli, tmp_path):
    train, evaluation = tmp_path / "train.jsonl", tmp_path / "eval.jsonl"
    train.write_text("".join(json.dumps(r) + "\n" for r in HAND[:2]))
    evaluation.write_text("".join(json.dumps(r) + "\n" for r in HAND[2:]))
    result = cli("stats", train, "--json", "-")
    assert result.code == 0 and json.loads(result.out)["rows"] == 2
    result = cli("stats", train, "--compare", evaluation, "--json", "-")
    payload = json.loads(result.out)
    assert (payload["a"]["rows"], payload["b"]["rows"], payload["b_rows_in_a_exact"]) == (2, 3, 1)


def test_cli_stats_json_prints_to_stdout_like_every_command_and_json_out_writes_a_file(cli, tmp_path):
    data = tmp_path / "train.jsonl"
    data.write_text("".join(json.dumps(r) + "\n" for r in HAND[:2]))
    printed = cli("stats", data, "--json")
    assert printed.code == 0 and json.loads(printed.out)["rows"] == 2 and "conversations" in printed.err
    assert printed.out == cli("stats", data, "--json", "-").out
    written = cli("stats", data, "--json-out", tmp_path / "a.json")
    assert written.code == 0 and "conversations" in written.out and "deprecated" not in written.err
    old = cli("stats", data, "--json", tmp_path / "b.json")  # the old form: still works, with a note
    assert old.err == (f"note: `stats --json OUT` is deprecated; use `--json-out {tmp_path / 'b.json'}` "
                       "(--json alone prints to stdout)\n")
    assert (tmp_path / "a.json").read_text() == (tmp_path / "b.json").read_text() == printed.out


@pytest.mark.parametrize("text", ["", "\n  \n"])
def test_cli_stats_of_a_file_with_no_rows(cli, tmp_path, text):
    path = tmp_path / "none.jsonl"
    path.write_text(text)
    result = cli("stats", path, "--format", "messages")
    assert result.code == 0 and "none (no conversation)" in result.out
    summary = json.loads(cli("stats", path, "--format", "messages", "--json", "-").out)
    assert (summary["rows"], summary["messages"], summary["turns_per_conversation"]["min"]) == (0, 0, None)


REASONING_ROWS = [
    {"messages": [{"role": "user", "content": "2+3?"},
                  {"role": "assistant", "content": "5", "reasoning_content": "Two plus three is five."}]},
    {"messages": [{"role": "user", "content": "Capital of France?"},
                  {"role": "assistant", "content": "<think>\nIt is Paris.\n</think>\n\nParis."}]},
    {"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello!"}]},
    {"messages": [{"role": "user", "content": "7*6?"},
                  {"role": "assistant", "content": "42", "thinking": "Seven sixes: 42."}]},
]


@pytest.mark.parametrize("as_file", [False, True])  # the Python reader and the C reader
def test_reasoning_is_counted_apart_from_the_answer_wherever_the_row_keeps_it(tmp_path, as_file):
    source = REASONING_ROWS
    if as_file:
        source = tmp_path / "reasoning.jsonl"
        source.write_text("".join(json.dumps(r) + "\n" for r in REASONING_ROWS))
    r = stats(source, template=get_template("chatml")).summary.to_json()["reasoning"]
    # reasoning 23 + 12 + 16 chars; answers 1 + 6 ("Paris.") + 6 ("Hello!") + 2
    assert r == {"unit": "chars", "replies": 4, "replies_with_reasoning": 3, "rows_with_reasoning": 3,
                 "rows_without_reasoning": 1, "sources": {"inline": 1, "reasoning_content": 1, "thinking": 1},
                 "chars": {"reasoning": 51, "answer": 15, "reasoning_share": 0.7727}, "tokens": None,
                 "reasoning_share_per_row": {"p50": round(16 / 18, 3), "p90": pytest.approx(0.944, abs=1e-3),
                                             "max": round(23 / 24, 3)},
                 "reasoning_per_reply": {"p50": 16.0, "p90": 21.6, "p99": 22.86, "max": 23.0, "mean": 17.0},
                 # chatml prints no reasoning field: the two field traces are not trained (the inline one is)
                 "dropped_by_template": {"template": "chatml", "replies": 2, "chars": 39}}
    assert "reasoning" not in stats(REASONING_ROWS[2:3]).summary.to_json()  # no reasoning: no section


def test_the_template_audit_in_stats_renders_the_reasoning_field(smollm2_tokenizer):
    """qwen3 prints reasoning_content: its tokens are trained, so stats counts them as trainable."""
    with_field = stats(REASONING_ROWS[:1], tokenizer=smollm2_tokenizer, template=get_template("qwen3")).summary
    without = stats([{"messages": [REASONING_ROWS[0]["messages"][0], {"role": "assistant", "content": "5"}]}],
                    tokenizer=smollm2_tokenizer, template=get_template("qwen3")).summary
    thought = len(smollm2_tokenizer("\nTwo plus three is five.")["input_ids"])
    assert with_field.tokens.trainable - without.tokens.trainable == thought - 1 == 6
    assert with_field.reasoning.tokens == {"reasoning": 6, "answer": 1, "reasoning_share": round(6 / 7, 4)}
    assert with_field.reasoning.dropped_by_template == {"template": "qwen3", "replies": 0, "chars": 0}


def test_gsm8k_as_reasoning_rows_counts_match_an_independent_computation(gsm8k, tmp_path):
    """gsm8k's answers are worked steps, then `#### result`: as think blocks, real reasoning rows."""
    rows = [json.loads(line) for line in gsm8k.read_text(encoding="utf-8").splitlines()]
    steps = [r["answer"].rsplit("####", 1) for r in rows]
    path = tmp_path / "gsm8k-reasoning.jsonl"
    path.write_text("".join(json.dumps({"messages": [
        {"role": "user", "content": r["question"]},
        {"role": "assistant", "content": f"<think>\n{work.strip()}\n</think>\n\n{result.strip()}"}]}) + "\n"
        for r, (work, result) in zip(rows, steps)), encoding="utf-8")
    r = stats(path).summary.reasoning
    reasoning = sum(len(work.strip()) for work, _ in steps)
    answer = sum(len(result.strip()) for _, result in steps)
    assert (r.rows_with_reasoning, r.rows_without_reasoning, r.sources) == (1319, 0, {"inline": 1319})
    assert r.chars == {"reasoning": reasoning, "answer": answer,
                       "reasoning_share": round(reasoning / (reasoning + answer), 4)}
    assert r.reasoning_per_reply["max"] == max(len(work.strip()) for work, _ in steps)

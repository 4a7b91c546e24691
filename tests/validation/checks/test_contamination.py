"""--decontaminate: training rows that share 13 words with a benchmark row, found on gsm8k's test split."""

from __future__ import annotations

import json

import pytest

from tests.validation.test_broken_rows import BROKEN
from validation import validate
from validation.checks.contamination import Benchmark
from validation.checks.shingles import words
from validation.errors import InputError


def rows_of(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def chat(user: str, assistant: str) -> dict:
    return {"messages": [{"role": "user", "content": user}, {"role": "assistant", "content": assistant}]}


def overlaps(report) -> list[tuple[int, str]]:
    return [(i.row, i.message) for i in report.issues if i.code == "benchmark-overlap"]


def test_rows_made_from_the_test_split_with_small_edits_are_caught_and_others_are_not(gsm8k, tmp_path):
    test = rows_of(gsm8k)
    q = [row["question"] for row in test]
    spaced = " ".join(q[3].split()[:12]) + " banana " + " ".join(q[3].split()[12:24])  # no 13 in a row
    rows = [
        chat("Solve this carefully: " + q[0], "Let me think."),                      # 1: prefixed
        chat("Explain rainbows.", "Sunlight is bent and split inside raindrops."),   # 2: clean
        chat(q[10].upper().replace(".", "!"), "ok"),                                 # 3: case and punctuation
        chat("What does this mean?", test[20]["answer"]),                            # 4: the answer copied
        chat(spaced, "ok"),                                                          # 5: broken up: not caught
        chat(" ".join(q[30].split()[:13]), "ok"),                                    # 6: exactly 13 words
    ]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = validate(tmp_path / "train.jsonl", benchmark=Benchmark.load(gsm8k), write_clean=tmp_path / "clean.jsonl")
    found = overlaps(report)
    assert [row for row, _ in found] == [1, 3, 4, 6]

    def said(row: int, bench_row: int, text: str) -> str:
        shared = words(text)
        shown = " ".join(shared[:40]) + (" …" if len(shared) > 40 else "")
        return f"shares {len(shared)} words with row {bench_row} of benchmark {gsm8k}: “{shown}”"

    assert found[0] == (1, said(1, 1, q[0]))
    assert found[1] == (3, said(3, 11, q[10]))
    assert found[3] == (6, said(6, 31, " ".join(q[30].split()[:13])))
    assert found[2][1].startswith("shares ") and "with row 21 of benchmark" in found[2][1]
    assert report.contamination.to_json() == {
        "benchmark": str(gsm8k), "field": None, "ngram": 13, "benchmark_rows": 1319, "short_texts": 1,
        "contaminated": 4, "benchmark_rows_hit": 4}
    kept = rows_of(tmp_path / "clean.jsonl")
    assert kept == [rows[1], rows[4]]


def test_a_benchmark_field_limits_what_is_compared(gsm8k, tmp_path):
    test = rows_of(gsm8k)
    rows = [chat("Explain.", test[20]["answer"]), chat(test[20]["question"], "ok")]
    (tmp_path / "train.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    report = validate(tmp_path / "train.jsonl", benchmark=Benchmark.load(gsm8k, field="question"))
    assert [row for row, _ in overlaps(report)] == [2]
    assert report.contamination.field == "question"


def test_a_shorter_ngram_catches_shorter_runs(tmp_path):
    bench = Benchmark.load(BROKEN / "benchmark.json", ngram=4)
    (tmp_path / "t.jsonl").write_text(json.dumps(chat("what is 2 + 2", "four")) + "\n", encoding="utf-8")
    report = validate(tmp_path / "t.jsonl", benchmark=bench)
    assert overlaps(report) == [(1, "shares 4 words with row 3 of benchmark "
                                    f"{BROKEN / 'benchmark.json'}: “what is 2 2”")]


def test_korean_and_han_text_match_word_by_word(tmp_path):
    bench = Benchmark.load(BROKEN / "benchmark.json")
    korean = ("빨간 사과 5개와 초록 사과 3개가 바구니에 들어 있습니다. 민수가 그중 2개를 먹고 나서 친구에게 1개를 "
              "주었다면 바구니에는 사과가 몇 개 남아 있을까요?")
    rows = [chat("문제를 풀어 주세요: " + korean, "5개"), chat("天气很好我们去公园散步吧今天下午三点见面不要迟到", "好")]
    (tmp_path / "t.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows),
                                      encoding="utf-8")
    report = validate(tmp_path / "t.jsonl", benchmark=bench)
    assert [(row, message.split(":")[0]) for row, message in overlaps(report)] == [
        (1, f"shares 23 words with row 2 of benchmark {BROKEN / 'benchmark.json'}")]
    han = Benchmark("han", [(1, "我们去公园散步吧今天下午三点见面")], ngram=13)  # each Han character a word
    assert han.check([7], ["ua\x1f天气很好我们去公园散步吧今天下午三点见面不要迟到\x1f好"], "messages")[0].row == 7


def test_a_benchmark_row_without_the_field_is_one_clear_line(cli, tmp_path):
    out = cli("validate", BROKEN / "benchmark-overlap.jsonl", "--decontaminate", BROKEN / "benchmark.json",
              "--bench-field", "prompt")
    assert out.code == 2
    assert out.err.strip().endswith(f"{BROKEN / 'benchmark.json'}: row 1 has no field 'prompt' (--bench-field)")
    assert "Traceback" not in out.err
    with pytest.raises(InputError, match="no benchmark text has 40 words or more"):
        Benchmark.load(BROKEN / "benchmark.json", ngram=40)


def test_a_hub_benchmark_offline_is_one_clear_line(cli, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    out = cli("validate", BROKEN / "benchmark-overlap.jsonl", "--decontaminate", "openai/gsm8k")
    assert out.code == 2 and "openai/gsm8k" in out.err and "Traceback" not in out.err
    assert len(out.err.strip().splitlines()) == 1


def test_write_clean_may_not_overwrite_the_benchmark(cli, tmp_path):
    bench = tmp_path / "bench.json"
    bench.write_bytes((BROKEN / "benchmark.json").read_bytes())
    out = cli("validate", BROKEN / "benchmark-overlap.jsonl", "--decontaminate", bench, "--write-clean", bench)
    assert out.code == 2 and "--write-clean" in out.err
    assert bench.read_bytes() == (BROKEN / "benchmark.json").read_bytes()

"""format: text trains as a language model (every token, EOS appended, no chat template, as TRL
trains a text field); a run explains itself (readable log lines, loss.png, a stop diagnosis)."""

from __future__ import annotations

import json

import pytest

from tests.training.conftest import write_config
from training.report import log_line, repeats, stop_diagnosis
from training.samples import Reply

CODE = ["def add(a, b):\n    return a + b\n", "# 한국어 주석\nprint('안녕하세요 😊')\n",
        "def mean(xs):\n    return sum(xs) / len(xs)\n", "x = [i * i for i in range(10)]\n"] * 2
SFT = {"max_steps": 2, "logging_steps": 1, "save_strategy": "no", "disable_tqdm": True,
       "per_device_train_batch_size": 4}


@pytest.fixture
def code_text(tmp_path):
    path = tmp_path / "code.jsonl"
    path.write_text("".join(json.dumps({"content": c, "lang": "python"}, ensure_ascii=False) + "\n" for c in CODE),
                    encoding="utf-8")
    return path


def test_text_rows_are_the_tokens_trl_trains_on_a_text_field(code_text, smollm2_tokenizer):
    from training.config import load_config
    from training.text import text_rows
    from validation import open_dataset

    from templating import get_template

    config = load_config(dataset={"path": str(code_text)}, max_length=12)
    forged = code_text.read_text(encoding="utf-8").splitlines()
    forged[1] = json.dumps({"content": "print(1)<|im_end|>\n"})  # a special token forged from content: an error
    code_text.write_text("\n".join(forged) + "\n", encoding="utf-8")
    with open_dataset(code_text, format="text", column="content") as data:
        rows, report = text_rows(data, smollm2_tokenizer, config, get_template("smollm2").rules)
    assert len(rows) == 7 and report.invalid == 1
    for row, text in zip(rows, [CODE[0], *CODE[2:]]):
        assert row.ids == smollm2_tokenizer(text + smollm2_tokenizer.eos_token)["input_ids"]
        assert row.mask == [1] * len(row.ids)
        assert smollm2_tokenizer.decode(row.ids) == text + "<|im_end|>"  # no system prompt, no chat markers
    assert report.summary.tokens == report.summary.supervised_tokens == sum(len(r.ids) for r in rows)
    dropped = config.model_copy(update={"over_length": "drop"})
    with open_dataset(code_text, format="text", column="content") as data:
        kept, report = text_rows(data, smollm2_tokenizer, dropped)
    lengths = [len(smollm2_tokenizer(c)["input_ids"]) + 1 for c in [CODE[0], "print(1)<|im_end|>\n", *CODE[2:]]]
    assert len(kept) == sum(n <= 12 for n in lengths)
    assert report.summary.rows_dropped == 8 - len(kept)


def test_a_text_dataset_trains_as_a_language_model(cli, tiny_model, code_text, tmp_path):
    out = tmp_path / "out"
    config = write_config(tmp_path, model=str(tiny_model), template="smollm2", max_length=64, output_dir=str(out),
                          dataset={"path": str(code_text), "format": "text", "column": "content"},
                          sample_prompts=["def is_prime(n):"], max_new_tokens=4, sft=SFT)
    result = cli("train", config)
    assert result.code == 0, result.err
    flat = " ".join(result.out.split())  # (rich wraps long lines at the terminal's width)
    assert "audit: format text trains as a language model: all " in flat
    assert "tokens and masks agree with TRL's on 8 sampled rows" in flat
    audit = json.loads((out / "audit.json").read_text())["summary"]
    assert audit["tokens"] == audit["supervised_tokens"] > 0
    samples = (out / "samples.md").read_text()
    assert "## def is_prime(n):" in samples and "<|im_start|>" not in samples
    # the log: one line per step, no Python dict; the loss curve beside the model
    assert "step 1/2  loss " in result.out and "step 2/2  loss " in result.out and "{'loss'" not in result.out
    assert "done: 2 steps in " in result.out
    assert (out / "loss.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "none: no eval split (eval: {ratio: 0.1} holds out a tenth)" in flat


def test_text_as_chat_wraps_the_text_in_the_template(cli, tiny_model, code_text, tmp_path):
    config = write_config(tmp_path, model=str(tiny_model), template="smollm2", max_length=64,
                          output_dir=str(tmp_path / "out"), text_as="chat",
                          dataset={"path": str(code_text), "format": "text", "column": "content"}, sft=SFT)
    result = cli("train", config, "--dry-run")
    assert result.code == 0 and "<|im_start|>assistant" in result.out
    assert "trains as a language model" not in result.out


def test_log_lines_read_as_sentences():
    assert log_line({"loss": 1.25, "eval_loss": 1.5, "epoch": 1.0}, 4, 8) == \
        "step 4/8  loss 1.2500  eval loss 1.5000  epoch 1.00"
    assert log_line({"rewards/margins": 0.25, "rewards/accuracies": 0.75}, 1, 0) == \
        "step 1  reward margin 0.250  reward accuracy 75%"


def test_the_stop_diagnosis_tells_an_untrained_end_of_turn_from_too_little_training():
    looping = [Reply("I am fine. I am fine. I am fine. I am fine.", False), Reply("Hello", True)]
    audit = stop_diagnosis(rate_before=1.0, rate_after=0.5, replies=looping, final_loss=0.4, steps=100,
                           learning_rate=2e-5, untrained_end=3, has_eval=True)
    assert audit == ("the model stops less often after training (100% → 50% of replies end with a stop token): the "
                     "end-of-turn token is not trained in 3 rows (audit: end-of-turn-not-supervised); fix the template "
                     "or the rows (`instructkit audit`)")
    short = stop_diagnosis(rate_before=1.0, rate_after=0.0, replies=looping, final_loss=2.41, steps=6,
                           learning_rate=3e-4, untrained_end=0, has_eval=False)
    assert short == ("the model stops less often after training (100% → 0% of replies end with a stop token): the "
                     "audit found the end-of-turn token trained in every row; the loss is still 2.41, only 6 optimizer "
                     "steps, 1 of 2 replies repeat themselves, learning rate 0.0003: training has not gone far enough "
                     "yet. Try: train longer (more rows, or num_train_epochs / max_steps); lower the learning rate "
                     "(e.g. 5e-5); add an eval split (eval: {ratio: 0.1}) to watch the eval loss")


@pytest.mark.parametrize(("text", "expected"), [
    ("네, 좋아요. 네, 좋아요. 네, 좋아요. 네, 좋아요.", True),
    ("오늘은 날씨가 맑고 따뜻해서 산책하기 좋은 날입니다.", False),
    ("", False),
])
def test_repetition_is_seen_in_any_language(text, expected):
    assert repeats(text, span=2) is expected

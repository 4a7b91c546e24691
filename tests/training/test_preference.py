"""Preference training: DPO and KTO runs on the tiny model with the example pairs, our prepared
tokens equal to TRL's own preparation of the same rows, and the clear refusals."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training import load_config, run
from training.errors import ConfigError, MaskMismatch
pytest.importorskip("trl")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "preferences.jsonl"
STEPS = {"max_steps": 3, "per_device_train_batch_size": 4, "logging_steps": 1, "save_strategy": "no",
         "disable_tqdm": True}


def _config(tiny_model, tmp_path, method="dpo", path=EXAMPLE, max_length=256, **values):
    return load_config(model=str(tiny_model), method=method, dataset={"path": str(path)}, template="smollm2",
                       max_length=max_length, output_dir=str(tmp_path / "out"), sample_prompts=["How do I boil an egg?"],
                       max_new_tokens=8, **{method: STEPS}, **values)


def test_the_example_is_what_its_generator_writes():
    from tests.conftest import written_by_generator

    assert EXAMPLE.read_text(encoding="utf-8") == written_by_generator(EXAMPLE, "make_preferences.py")


def test_dpo_trains_the_pairs_and_reports_rewards(tiny_model, tmp_path):
    summary = run(_config(tiny_model, tmp_path))
    assert (summary.train_rows, summary.steps, summary.template) == (20, 3, "smollm2")
    assert summary.reward_margin_first == 0.0 and summary.reward_accuracy_first == 0.0  # the policy is the reference
    assert summary.reward_margin_last is not None and summary.reward_accuracy_last is not None
    out = tmp_path / "out"
    metrics = json.loads((out / "metrics.json").read_text())
    assert [h["rewards/margins"] for h in metrics["log_history"] if "rewards/margins" in h][-1] == \
        pytest.approx(summary.reward_margin_last)
    assert json.loads((out / ".instructkit-run.json").read_text())["finished"] is True
    assert (out / "samples.md").exists() and (out / "validation.json").exists()
    from transformers import AutoTokenizer

    from templating import get_template

    assert AutoTokenizer.from_pretrained(out).chat_template == get_template("smollm2").jinja


def test_prepared_pairs_equal_trl_s_own_preparation(tiny_model, smollm2_tokenizer, tmp_path):
    """TRL's DPOTrainer preparing the same pairs (conversational, our template installed) gives
    the very ids we hand it."""
    import copy

    import datasets
    from transformers import AutoModelForCausalLM
    from trl import DPOConfig, DPOTrainer

    from templating import get_template
    from training.preference import check_pairs_against_trl, prepare, read_pairs
    from validation.readers.source import dataset_of

    template = get_template("smollm2")
    with dataset_of(EXAMPLE) as data:
        pairs = read_pairs(data)
    ours = prepare(pairs, smollm2_tokenizer, template, 256)
    assert check_pairs_against_trl(pairs, smollm2_tokenizer, template, ours, sample=len(pairs)) == 20
    tokenizer = copy.copy(smollm2_tokenizer)
    tokenizer.chat_template = template.jinja
    rows = datasets.Dataset.from_list([{"prompt": [m.to_dict() for m in p.prompt],
                                        "chosen": [m.to_dict() for m in p.chosen],
                                        "rejected": [m.to_dict() for m in p.rejected]} for p in pairs])
    trainer = DPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_model),
                         args=DPOConfig(str(tmp_path / "trl"), report_to=[], use_cpu=True, max_length=256),
                         train_dataset=rows, processing_class=tokenizer)
    for name in ("prompt_ids", "chosen_ids", "rejected_ids"):
        assert trainer.train_dataset[name] == ours[name]
    short = prepare(pairs, smollm2_tokenizer, template, 50)  # the long prompts are left out, as TRL leaves them
    assert 0 < len(short) < 20 and check_pairs_against_trl(pairs, smollm2_tokenizer, template, short, sample=20,
                                                      max_length=50) == len(short)
    cut = prepare(pairs, smollm2_tokenizer, template, 256, max_prompt_length=30)  # prompts keep their last 30
    assert max(len(ids) for ids in cut["prompt_ids"]) == 30 and cut["chosen_ids"] == ours["chosen_ids"]
    assert check_pairs_against_trl(pairs, smollm2_tokenizer, template, cut, sample=20, max_prompt_length=30) == 20
    broken = ours.map(lambda row: {"chosen_ids": row["chosen_ids"][:-1]})
    with pytest.raises(MaskMismatch, match="row 1: our prepared tokens differ from TRL's"):
        check_pairs_against_trl(pairs, smollm2_tokenizer, template, broken)


def test_kto_trains_pairs_as_labelled_replies(tiny_model, tmp_path):
    summary = run(_config(tiny_model, tmp_path, method="kto"))
    assert summary.train_rows == 40 and summary.reward_margin_last is not None  # 20 pairs, two replies each
    assert summary.reward_accuracy_last is None  # KTO logs no pairwise accuracy


def test_kto_refuses_rows_of_one_label(tiny_model, tmp_path):
    path = tmp_path / "good.jsonl"
    path.write_text("".join(json.dumps({"prompt": f"Q{i}", "completion": f"A{i}", "label": True}) + "\n"
                            for i in range(4)))
    with pytest.raises(ConfigError, match="every row is desirable .*KTO learns from both kinds"):
        run(_config(tiny_model, tmp_path, method="kto", path=path))


def test_preference_methods_refuse_other_data_with_one_line(tiny_model, tmp_path, tiny_dataset):
    with pytest.raises(ConfigError, match=r"method dpo trains preference data; .* is messages \(conversations\)"):
        run(_config(tiny_model, tmp_path, path=tiny_dataset))
    unpaired = tmp_path / "kto.jsonl"
    unpaired.write_text(json.dumps({"prompt": "Q", "completion": "A", "label": True}) + "\n" +
                        json.dumps({"prompt": "Q", "completion": "B", "label": False}) + "\n")
    with pytest.raises(ConfigError, match="method dpo compares a chosen and a rejected reply; these rows are unpaired"):
        run(_config(tiny_model, tmp_path, path=unpaired, overwrite=True))


def test_max_prompt_length_is_dpo_s():
    with pytest.raises(ConfigError, match="max_prompt_length cuts the prompts of method dpo's pairs; method kto"):
        load_config(dataset={"path": "d.jsonl"}, method="kto", max_prompt_length=64)


def test_a_trainer_block_of_another_method_is_refused():
    with pytest.raises(ConfigError, match="sft: settings for method sft, but method is dpo: put them under dpo:"):
        load_config(dataset={"path": "d.jsonl"}, method="dpo", sft={"learning_rate": 1e-5})
    with pytest.raises(ConfigError, match="unknown DPOConfig field 'bta'; did you mean 'beta'"):
        load_config(dataset={"path": "d.jsonl"}, method="dpo", dpo={"bta": 0.1})


def test_the_pair_audit_gates_the_run(tiny_model, tmp_path):
    """max_length 50 leaves 8 of the example's prompts no room (with smollm2's default system prompt):
    `stop` stops with the audit's rows, `drop` trains the other 12 and writes audit.json and stats.json."""
    from training.errors import InvalidDataset
    with pytest.raises(InvalidDataset) as stopped:
        run(_config(tiny_model, tmp_path, max_length=50))
    assert {i.code for i in stopped.value.report.issues if i.severity == "error"} == {"prompt-fills-max-length"}
    summary = run(_config(tiny_model, tmp_path, max_length=50, on_audit_error="drop", overwrite=True))
    assert (summary.train_rows, summary.dropped_rows) == (12, 8)
    out = tmp_path / "out"
    audit = json.loads((out / "audit.json").read_text())
    assert audit["summary"]["rows_with"]["prompt-fills-max-length"] == 8
    assert json.loads((out / "stats.json").read_text())["pairs"] == 20


def test_the_run_tokenizes_each_training_pair_once(tiny_model, tmp_path, monkeypatch):
    """The audit's tokens are what DPO trains on: `pair_tokens` meets each training row once (the
    audit), and `prepare` takes the audited tokens instead of tokenizing again."""
    from templating.supervision import pairs as pair_audit

    seen: list[int] = []
    tokens = pair_audit.pair_tokens

    def counted(rows, tokenizer, template):
        seen.append(len(rows))
        return tokens(rows, tokenizer, template)

    monkeypatch.setattr(pair_audit, "pair_tokens", counted)
    run(_config(tiny_model, tmp_path), dry_run=True)
    assert seen == [20]

"""Token-budget batches (training/levers/batches.py): every row once an epoch, no batch over the budget,
the same batches for every process count, and a resumed run that trains on exactly the batches
of an uninterrupted one."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

pytest.importorskip("trl")

from training import load_config, run  # noqa: E402
from training.levers.batches import TokenBudgetSampler, token_batches  # noqa: E402
from training.config import ConfigError  # noqa: E402
from templating import get_template

lengths_and_budget = st.tuples(st.lists(st.integers(1, 300), min_size=1, max_size=200), st.integers(1, 1200))


@settings(max_examples=200, deadline=None)
@given(lengths_and_budget, st.integers(0, 2**32))
def test_batches_hold_every_row_once_and_stay_within_the_budget(case, seed):
    lengths, budget = case
    batches = token_batches(lengths, budget, seed=seed)
    assert sorted(i for b in batches for i in b) == list(range(len(lengths)))
    for batch in batches:
        assert sum(lengths[i] for i in batch) <= budget or len(batch) == 1  # a longer row goes alone
    for first, second in zip(batches, batches[1:]):  # a batch closes only when the next row would overflow it
        assert sum(lengths[i] for i in first) + lengths[second[0]] > budget
    assert batches == token_batches(lengths, budget, seed=seed)


def test_a_row_longer_than_the_budget_is_a_batch_of_its_own():
    assert token_batches([10, 500, 10], 100, seed=0) in ([[0, 2], [1]], [[2, 0], [1]], [[1], [0, 2]], [[1], [2, 0]],
                                                         [[0], [1], [2]], [[2], [1], [0]])
    assert [1] in token_batches([10, 500, 10], 100, seed=0)


@settings(max_examples=100, deadline=None)
@given(lengths_and_budget, st.integers(0, 1000), st.integers(1, 4))
def test_each_epoch_visits_the_same_batches_split_between_processes(case, seed, processes):
    lengths, budget = case
    samplers = [TokenBudgetSampler(lengths, budget, seed=seed, processes=processes, rank=r) for r in range(processes)]
    whole = token_batches(lengths, budget, seed=seed)
    for epoch in (0, 1, 2):
        seen = []
        for sampler in samplers:
            sampler.set_epoch(epoch)
            mine = list(sampler)
            assert len(mine) == len(sampler) == len(whole) // processes  # every process steps alike
            seen += mine
        assert all(batch in whole for batch in seen)
        assert len({tuple(b) for b in seen}) == len(seen)  # no batch twice in an epoch
        if processes == 1:
            assert sorted(seen) == sorted(whole)


def test_epochs_reorder_the_batches():
    sampler = TokenBudgetSampler([10] * 100, 20, seed=3)
    first = list(sampler)
    sampler.set_epoch(1)
    assert list(sampler) != first and sorted(list(sampler)) == sorted(first)
    sampler.set_epoch(0)
    assert list(sampler) == first


@pytest.mark.parametrize("values", [{"packing": True}, {"sft": {"padding_free": False}}])
def test_a_budget_needs_padding_free_rows(values):
    with pytest.raises(ConfigError, match="token_budget counts the tokens of padding-free rows"):
        load_config(dataset={"path": "d.jsonl"}, token_budget=512, **values)


SFT = {"learning_rate": 3e-3, "logging_steps": 1, "disable_tqdm": True, "lr_scheduler_type": "constant",
       "save_strategy": "steps", "save_steps": 2}


def steps(folder) -> dict[int, dict]:
    history = json.loads((folder / "metrics.json").read_text())["log_history"]
    return {h["step"]: h for h in history if "loss" in h}


def test_steps_train_the_budgeted_batches_and_a_resume_across_an_epoch_repeats_them(tiny_model, tiny_dataset,
                                                                                   tmp_path):
    common = {"model": str(tiny_model), "dataset": {"path": str(tiny_dataset)}, "template": "smollm2",
              "max_length": 128, "token_budget": 150, "seed": 7}
    whole = tmp_path / "whole"
    summary = run(load_config(output_dir=str(whole), **common, sft={**SFT, "max_steps": 8}))
    from transformers import AutoTokenizer

    from templating.supervision.dataset import audit_rows

    _, audited = audit_rows(tiny_dataset, tokenizer=AutoTokenizer.from_pretrained(tiny_model), template=get_template("smollm2"),
                            max_length=128)
    lengths = [len(row.ids) for _, row in audited]  # what training prepares from
    batches = token_batches(lengths, 150, seed=7)
    assert 2 <= len(batches) < 8 and summary.train_rows == 8
    logged = steps(whole)
    tokens = trained_tokens(logged)
    per_epoch = len(batches)
    expected = sorted(sum(lengths[i] for i in b) for b in batches)
    assert sorted(tokens[s] for s in range(1, per_epoch + 1)) == expected
    assert sorted(tokens[s] for s in range(per_epoch + 1, 2 * per_epoch + 1)) == expected
    assert max(tokens.values()) <= 150

    parted = tmp_path / "parted"  # stopped after the first batch of epoch 1, resumed into epoch 2
    run(load_config(output_dir=str(parted), **common, sft={**SFT, "max_steps": per_epoch + 1}))
    run(load_config(output_dir=str(parted), resume=True, **common, sft={**SFT, "max_steps": 8}))
    resumed = steps(parted)  # the checkpoint's history, then the steps trained after the resume
    first = per_epoch + 2
    assert resumed[first - 1] == logged[first - 1]
    again = trained_tokens({s: h for s, h in resumed.items() if s >= first})
    for step in range(first, 9):
        assert again[step] == tokens[step]  # the same batch
        assert round(resumed[step]["loss"], 4) == round(logged[step]["loss"], 4)


def trained_tokens(logged: dict[int, dict]) -> dict[int, float]:
    """Tokens of each step (TRL logs a running count, which starts again at 0 in a resumed run)."""
    first = min(logged)
    return {s: logged[s]["num_tokens"] - (logged[s - 1]["num_tokens"] if s > first else 0) for s in sorted(logged)}

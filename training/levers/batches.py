"""Token-budget batches: each micro-batch holds up to `budget` tokens instead of a fixed number
of rows, so a step of short rows does as much work as a step of long ones and memory per step is
bounded by the budget, not by the four longest rows that happen to meet.

The rows are split into batches once, from a seeded shuffle (the first row that would overflow a
batch starts the next one; a row longer than the budget is a batch of its own); each epoch then
visits the batches in an order seeded by the epoch. The number of batches is the same every epoch
(the trainer plans its steps from it) and a resumed run sees exactly the batches the uninterrupted
run would have seen: the trainer skips the ones already trained (tests/training/levers/test_batches.py).
Padding-free rows only: the budget counts real tokens, which is what a padded batch is not.
"""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import torch
from transformers.trainer_pt_utils import BatchRebalanceSampler
from trl import SFTTrainer


def token_batches(lengths: Sequence[int], budget: int, *, seed: int) -> list[list[int]]:
    """The rows' indices cut into batches of at most `budget` tokens (a longer row alone)."""
    order = list(range(len(lengths)))
    random.Random(seed).shuffle(order)
    batches: list[list[int]] = []
    batch: list[int] = []
    total = 0
    for index in order:
        if batch and total + lengths[index] > budget:
            batches.append(batch)
            batch, total = [], 0
        batch.append(index)
        total += lengths[index]
    if batch:
        batches.append(batch)
    return batches


# A BatchRebalanceSampler is what the Trainer hands the DataLoader as its `batch_sampler`, already
# split between processes (transformers' trainer.py, `_get_dataloader`); this is one of those with
# its own split, so only the role is inherited, not the parent's state or algorithm.
class TokenBudgetSampler(BatchRebalanceSampler):
    """Micro-batches of up to `budget` tokens, process `rank` of `processes` taking every
    `processes`-th batch of the epoch's order (the last few batches of an epoch that do not go
    round all processes are left to a later epoch's order)."""

    def __init__(self, lengths: Sequence[int], budget: int, *, seed: int, processes: int = 1,
                 rank: int = 0) -> None:  # noqa: super().__init__ is the rebalancing algorithm, not used
        self.batches = token_batches(lengths, budget, seed=seed)
        self.seed, self.processes, self.rank, self.epoch = seed, processes, rank, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return len(self.batches) // self.processes

    def __iter__(self) -> Iterator[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        order = torch.randperm(len(self.batches), generator=generator).tolist()
        for position in range(len(self) * self.processes)[self.rank::self.processes]:
            yield self.batches[order[position]]


class TokenBudgetTrainer(SFTTrainer):
    """`SFTTrainer` whose training batches hold `token_budget` tokens each (eval keeps its
    row-count batches: it computes no gradient)."""

    def __init__(self, *args: Any, token_budget: int, **kwargs: Any) -> None:
        self.token_budget = token_budget
        super().__init__(*args, **kwargs)

    def _get_train_sampler(self, train_dataset: Any = None) -> TokenBudgetSampler:
        dataset = self.train_dataset if train_dataset is None else train_dataset
        lengths = [len(ids) for ids in dataset["input_ids"]]
        return TokenBudgetSampler(lengths, self.token_budget, seed=self.args.seed,
                                  processes=max(1, self.args.world_size), rank=self.args.process_index)

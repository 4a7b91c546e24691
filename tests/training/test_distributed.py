"""Two CPU processes through `accelerate launch` (DDP over gloo): a real run of that path."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.conftest import write_config

pytest.importorskip("accelerate")


def free_port() -> int:
    """A port nothing listens on now: each launch its own, so two launches at once (the test
    workers run side by side) never meet in one rendezvous."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def launch(tmp_path, tiny_model, tiny_dataset, **values) -> list[dict]:
    """`instructkit train` on two CPU processes; the logged training steps."""
    out = tmp_path / "out"
    config = write_config(tmp_path, model=str(tiny_model), template="smollm2", dataset={"path": str(tiny_dataset)},
                          output_dir=str(out), **values)
    accelerate = shutil.which("accelerate", path=str(Path(sys.executable).parent))
    env = {**os.environ, "ACCELERATE_USE_CPU": "1", "TOKENIZERS_PARALLELISM": "false"}
    done = subprocess.run([accelerate, "launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                           "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", str(free_port()),
                           "-m", "instructkit", "train", config], env=env, capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.count("training summary") == 1  # reports come from the main process only
    history = json.loads((out / "metrics.json").read_text())["log_history"]
    return [h for h in history if "loss" in h]


SFT = {"max_steps": 2, "logging_steps": 1, "save_strategy": "no", "disable_tqdm": True}


def test_two_cpu_processes_share_the_batches(tiny_model, tiny_dataset, tmp_path):
    steps = launch(tmp_path, tiny_model, tiny_dataset, max_length=64, sft={**SFT, "per_device_train_batch_size": 2})
    # 8 rows, 2 per device on 2 processes: 2 steps are one whole epoch (one process would need 4)
    assert [h["epoch"] for h in steps] == [0.5, 1.0]


def test_two_cpu_processes_share_the_token_budget_batches(tiny_model, tiny_dataset, tmp_path):
    steps = launch(tmp_path, tiny_model, tiny_dataset, max_length=128, token_budget=150, sft=SFT)
    # 8 rows of 48-49 tokens make 3 batches of at most 150 tokens: one each for the two processes, the third
    # waits for a later epoch's order (one process would step 3 times an epoch)
    assert [h["epoch"] for h in steps] == [1.0, 2.0]
    assert all(h["num_tokens"] <= 2 * 150 * h["step"] for h in steps)

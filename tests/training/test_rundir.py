"""The output folder of `train`: someone else's files, two runs at once, a kill and a resume."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from tests.training.conftest import write_config
from training.rundir import LOCK, MARKER, last_checkpoint

pytest.importorskip("trl")
BASE = {"template": "smollm2", "max_length": 128}
SFT = {"learning_rate": 3e-3, "per_device_train_batch_size": 4, "logging_steps": 1, "disable_tqdm": True,
       "lr_scheduler_type": "constant"}


def test_a_folder_of_someone_elses_files_is_refused_and_left_as_it_was(cli, tiny_dataset, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "config.json").write_text('{"mine": true}')
    (out / "notes.txt").write_text("my notes")
    result = cli("train", write_config(tmp_path, model="nowhere", dataset={"path": str(tiny_dataset)},
                                       output_dir=str(out)))
    assert result.code == 2
    assert result.err == (f"instructkit train: error: output_dir {out} already holds files that are not an "
                          "instructkit run (config.json, notes.txt); choose an empty or new folder, or pass "
                          "--overwrite to write there anyway (files of the same name as the run's are replaced, "
                          "nothing is deleted)\n")
    assert sorted(p.name for p in out.iterdir()) == ["config.json", "notes.txt"]
    assert (out / "config.json").read_text() == '{"mine": true}'


def test_overwrite_writes_beside_the_users_files_and_deletes_none(cli, tiny_model, tiny_dataset, tmp_path):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("my notes")
    config = write_config(tmp_path, model=str(tiny_model), dataset={"path": str(tiny_dataset)}, output_dir=str(out),
                          **BASE, sft={**SFT, "max_steps": 1, "save_strategy": "no"})
    result = cli("train", config, "--overwrite")
    assert result.code == 0, result.err
    assert "writing into" in result.out and "none is deleted" in result.out
    assert (out / "notes.txt").read_text() == "my notes" and (out / "model.safetensors").is_file()
    assert json.loads((out / MARKER).read_text())["finished"] is True and not (out / LOCK).exists()
    again = cli("train", config)  # an earlier run's folder: allowed, and said
    assert again.code == 0 and "replacing the files of the earlier run started" in again.out


def test_a_second_run_is_refused_while_the_first_holds_the_folder(cli, tiny_dataset, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / LOCK).write_text(f"{os.getppid()} {os.uname().nodename}\n")  # a live process: the test's parent
    config = write_config(tmp_path, model="nowhere", dataset={"path": str(tiny_dataset)}, output_dir=str(out))
    result = cli("train", config)
    assert result.code == 2
    assert result.err == (f"instructkit train: error: output_dir {out} is being written by another run (PID "
                          f"{os.getppid()}); wait for it to end or choose another output_dir\n")
    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    (out / LOCK).write_text(f"{gone.stdout.strip()} {os.uname().nodename}\n")  # its process has ended: stale
    result = cli("train", config, "--dry-run")  # a dry run writes nothing: the stale lock stays
    assert "being written by another run" not in result.err and (out / LOCK).exists()
    result = cli("train", config)  # a run takes it over (and ends at the model, which is nowhere)
    assert "being written by another run" not in result.err and "nowhere" in result.err
    assert not (out / LOCK).exists()


def test_a_killed_run_resumes_with_the_losses_of_an_uninterrupted_run(cli, tiny_model, tiny_dataset, tmp_path):
    from training import load_config, run

    common = {"model": str(tiny_model), "dataset": {"path": str(tiny_dataset)}, **BASE}
    out = tmp_path / "killed"
    config = write_config(tmp_path, output_dir=str(out), **common,
                          sft={**SFT, "max_steps": 100_000, "save_strategy": "steps", "save_steps": 3})
    child = subprocess.Popen([sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())",
                              "train", config], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             env={**os.environ, "HF_HUB_OFFLINE": "1"})
    try:
        deadline = time.monotonic() + 240
        while last_checkpoint(out) is None or int(last_checkpoint(out).rsplit("-", 1)[1]) < 6:
            assert child.poll() is None and time.monotonic() < deadline, "the run ended before a checkpoint"
            time.sleep(0.05)
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait()
    assert (out / LOCK).exists() and json.loads((out / MARKER).read_text())["finished"] is False
    for command in (("verify", str(out)), ("generate", str(out), "hi")):
        refused = cli(*command)
        assert refused.code == 2 and "the training run in this folder did not finish" in refused.err, command

    step = int(last_checkpoint(out).rsplit("-", 1)[1])
    resumed = cli("train", config, "--resume", "--set", f"sft.max_steps={step + 3}")
    assert resumed.code == 0, resumed.err
    assert f"resume: from {out}/checkpoint-{step}" in resumed.out.replace("\n", "")
    whole = tmp_path / "whole"
    run(load_config(output_dir=str(whole), **common,
                    sft={**SFT, "max_steps": step + 3, "save_strategy": "steps", "save_steps": 3}))

    def losses(folder):
        history = json.loads((folder / "metrics.json").read_text())["log_history"]
        return {h["step"]: round(h["loss"], 4) for h in history if "loss" in h and h["step"] > step}

    assert losses(out) == losses(whole) and sorted(losses(out)) == [step + 1, step + 2, step + 3]
    assert cli("verify", str(out)).code == 0



def test_a_dry_run_leaves_nothing_behind(cli, tiny_model, tiny_dataset, tmp_path):
    out = tmp_path / "out"
    config = write_config(tmp_path, model=str(tiny_model), dataset={"path": str(tiny_dataset)}, template="chatml",
                          max_length=64, output_dir=str(out))
    result = cli("train", config, "--dry-run")
    assert result.code == 0 and "first training example" in result.out
    assert not out.exists()
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    result = cli("train", config, "--dry-run")  # what the run would refuse, the dry run refuses too
    assert result.code == 2 and "already holds files that are not an instructkit run (notes.txt)" in result.err
    assert sorted(p.name for p in out.iterdir()) == ["notes.txt"]

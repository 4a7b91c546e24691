"""What the sharded-run tests share (tests/validation/test_scale*.py): shards cut from rows, gsm8k's rows with defects
in shards, a report as compared with the joined file's, and Slurm's commands stood in for (no Slurm here)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GSM8K = ROOT.parent / "shared" / "data" / "gsm8k" / "test.jsonl"
BIN = Path(sys.executable).parent


def compared(report) -> dict:  # noqa: ANN001 - a Report
    data = report.to_json()
    data.pop("path")
    data.pop("shards", None)
    return data


def cut(folder: Path, lines: list[str], cuts: list[int]) -> tuple[Path, list[str]]:
    """(FOLDER/all.jsonl, the shards in FOLDER/shards): `lines` joined in one file, and cut at `cuts`."""
    (folder / "shards").mkdir()
    paths = write_shards(folder / "shards", lines, cuts)
    joined = folder / "all.jsonl"
    joined.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return joined, paths


def write_shards(folder: Path, lines: list[str], cuts: list[int]) -> list[str]:
    """`lines` cut at `cuts` into shard files (each ending with a newline, so that joined they are the one file)."""
    bounds = [0, *sorted(cuts), len(lines)]
    paths = []
    for n, (a, b) in enumerate(zip(bounds, bounds[1:])):
        path = folder / f"part-{n:03d}.jsonl"
        path.write_text("".join(line + "\n" for line in lines[a:b]), encoding="utf-8")
        paths.append(str(path))
    return paths


def gsm8k_shards(folder: Path, shards: int = 5) -> tuple[Path, list[str]]:
    """gsm8k's test split as messages with defects put in (and repeats across shards), cut into shards and joined."""
    if not GSM8K.exists():
        pytest.skip("needs ../shared/data/gsm8k (the shared test data)")
    lines = []
    for i, raw in enumerate(GSM8K.read_text(encoding="utf-8").splitlines()):
        row = json.loads(raw)
        messages = [{"role": "user", "content": row["question"]}, {"role": "assistant", "content": row["answer"]}]
        if i % 97 == 5:
            messages[1]["content"] = ""
        if i % 53 == 7:
            messages = messages[:1]
        lines.append(json.dumps({"messages": messages}, ensure_ascii=False))
        if i % 41 == 3:
            lines.append(lines[i * 7 % len(lines)])
    return cut(folder, lines, [len(lines) * k // shards for k in range(1, shards)])


def slurm_stand_ins(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """(the folder the stand-in `sbatch` keeps each script it is given in, the environment that finds the
    stand-ins): no Slurm here."""
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "sbatch").write_text('#!/bin/bash\nn=$(ls "$SBATCH_LOG" | wc -l)\n'
                                  '{ echo "# sbatch ${@:1:$#-1}"; cat "${@: -1}"; } '
                                  '> "$SBATCH_LOG/$(printf %02d $n).sh"\n'
                                  'echo "Submitted batch job $((100 + n))"\n')
    (tools / "scontrol").write_text("#!/bin/bash\necho localhost\n")
    for tool in tools.iterdir():
        tool.chmod(0o755)
    queued = tmp_path / "queued"
    queued.mkdir()
    return queued, {**os.environ, "PATH": f"{tools}:{BIN}:{os.environ['PATH']}", "SBATCH_LOG": str(queued),
                    "PYTHONWARNINGS": "ignore"}


def run_as_slurm(logs: Path, stages: tuple[tuple[str, int], ...], env: dict[str, str], cwd: Path) -> None:
    """Every job array task of `stages` (name, tasks) run as Slurm runs it: its `launch_pickled_pipeline` line,
    SLURM_ARRAY_TASK_ID set, stage after stage."""
    for stage, tasks in stages:
        for task in range(tasks):
            done = subprocess.run([BIN / "launch_pickled_pipeline", str(logs / "stages" / stage / "executor.pik")],
                                  capture_output=True, text=True, cwd=cwd,
                                  env={**env, "SLURM_ARRAY_TASK_ID": str(task), "SLURM_NODELIST": "node1"})
            assert done.returncode == 0, done.stderr[-2000:]

"""A sharded `validate` on datatrove's executors (validation/scale) gives the report and the clean
rows `validate` gives for the shards joined into one file: for any dataset, any cut into shards and
units and any number of tasks (Hypothesis, in-process tasks), on real rows with worker processes,
on a real local Ray cluster, and through the scripts the Slurm executor queues (run here the way
Slurm would run them)."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from validation.errors import InputError
from validation.scale.run import validate_shards
from validation.scale.units import Checks
from validation.validate import validate

from tests.validation.scale_helpers import BIN, ROOT, compared, cut, gsm8k_shards, run_as_slurm, slurm_stand_ins



def _line(kind: int, text: str) -> str:
    """A row of one of several kinds: valid, valid folded alike, and four kinds of broken."""
    user, reply = {"role": "user", "content": text}, {"role": "assistant", "content": f"A: {text}"}
    rows = [{"messages": [user, reply]},
            {"messages": [{"role": "user", "content": text.upper() + "  "}, reply]},
            {"messages": [user, {"role": "assistant", "content": ""}]},
            {"messages": [user]},
            {"messages": [{"role": "wizard", "content": text}, reply]}]
    if kind < len(rows):
        return json.dumps(rows[kind], ensure_ascii=False)
    return "" if kind == len(rows) else '{"messages": [oops'


texts = st.sampled_from(["hello", "안녕하세요", "ça va?", "数学 🙂", "مرحبا", "x" * 40])
rows = st.lists(st.tuples(st.integers(0, 6), texts), min_size=1, max_size=40)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows, cuts=st.lists(st.integers(0, 40), max_size=4), tasks=st.integers(1, 3),
       unit_bytes=st.sampled_from([64, 300, 1 << 20]), keep=st.sampled_from([None, 2]))
def test_any_cut_into_shards_units_and_tasks_gives_the_joined_files_report_and_clean_rows(rows, cuts, tasks, unit_bytes,
                                                                                          keep):
    lines = [_line(kind, text) for kind, text in rows]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        joined, shards = cut(folder, lines, [c for c in cuts if c <= len(lines)])
        try:
            single = validate(joined, format="messages", max_issues=keep, write_clean=folder / "a.jsonl")
        except InputError:  # no row at all: the sharded run refuses it alike
            with pytest.raises(InputError, match="no rows to check"):
                validate_shards(shards, Checks(format="messages"), logs=folder / "logs", tasks=tasks, workers=1)
            return
        sharded = validate_shards(shards, Checks(format="messages", max_issues=keep), logs=folder / "logs",
                                  tasks=tasks, workers=1, write_clean=folder / "b.jsonl", unit_bytes=unit_bytes)
        assert sharded is not None
        assert compared(sharded) == compared(single)
        assert (folder / "b.jsonl").read_bytes() == (folder / "a.jsonl").read_bytes()
        assert [s.path for s in sharded.shards or []] == shards
        assert sum(s.lines for s in sharded.shards or []) == len(lines)


def _convertible(kind: int, text: str) -> str:
    """`_line`'s rows, and two more: a system prompt (prompt-completion then writes message lists, for every row)
    and a qa row."""
    if kind == 7:
        return json.dumps({"messages": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": text},
                                        {"role": "assistant", "content": text[::-1]}]}, ensure_ascii=False)
    if kind == 8:
        return json.dumps({"question": text, "answer": text + "!"}, ensure_ascii=False)
    return _line(kind, text)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=st.lists(st.tuples(st.integers(0, 8), texts), min_size=0, max_size=30),
       cuts=st.lists(st.integers(0, 30), max_size=4), tasks=st.integers(1, 3),
       unit_bytes=st.sampled_from([64, 300, 1 << 20]),
       to=st.sampled_from(["sharegpt", "prompt-completion", "qa", "alpaca", "messages"]))
def test_a_sharded_convert_writes_the_joined_files_rows_and_report(rows, cuts, tasks, unit_bytes, to):
    """Rows of every kind (broken ones, rows the target cannot hold, rows that switch prompt-completion to message
    lists anywhere), any cut into shards, units and tasks: the bytes and the report `convert` gives the joined
    file, or no output at all where it writes none."""
    from validation.convert import convert
    from validation.scale.convert import Target, convert_shards

    lines = [_convertible(kind, text) for kind, text in rows]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        joined, shards = cut(folder, lines, [c for c in cuts if c <= len(lines)])
        single = convert(joined, folder / "a.jsonl", to=to, format="messages")
        sharded = convert_shards(shards, folder / "b.jsonl", Target(to), format="messages", logs=folder / "logs",
                                 tasks=tasks, workers=1, unit_bytes=unit_bytes)
        assert sharded is not None and compared(sharded) == compared(single)
        assert (folder / "b.jsonl").exists() == (folder / "a.jsonl").exists()
        if (folder / "a.jsonl").exists():
            assert (folder / "b.jsonl").read_bytes() == (folder / "a.jsonl").read_bytes()


def test_convert_on_worker_processes_from_the_command_line_resumed_and_refusing_what_it_cannot_do(cli, tmp_path):
    """gsm8k's rows (defects and repeats put in) in 5 shards, to sharegpt on 3 tasks: the bytes and the report of
    `convert` on the joined file; the same command again skips the converted units and writes the same file."""
    from validation.convert import convert

    joined, shards = gsm8k_shards(tmp_path)
    single = convert(joined, tmp_path / "a.jsonl", to="qa")
    args = ["convert", *shards, "--to", "qa", "-o", tmp_path / "b.jsonl", "--executor", "local", "--tasks", "3",
            "--logs", tmp_path / "logs"]
    for _ in range(2):
        result = cli(*args, "--json")
        assert result.code == 1, result.err  # (rows qa cannot hold: those without a reply)
        report = result.json()
        del report["path"]
        assert report == compared(single) and single.invalid > 0
        assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    assert len(list((tmp_path / "logs" / "stages" / "convert" / "completions").iterdir())) == 3
    said = cli(*args).err
    assert f"wrote {single.valid} of {single.rows} rows to {tmp_path / 'b.jsonl'} (qa)" in " ".join(said.split())
    for extra, refusal in ((["--fix"], "--fix with --executor"),
                           (["-o", tmp_path / "b.parquet"], "a sharded run writes the converted rows as JSONL"),
                           (["--to", "nope"], "unknown format 'nope'")):
        result = cli(*args, *extra)
        assert result.code == 2 and refusal in result.err, result.err
    result = cli("convert", *shards[:2], "--to", "qa", "-o", tmp_path / "c.jsonl")
    assert result.code == 2 and "convert them as the shards of one with --executor local" in result.err


def test_gsm8k_shards_on_worker_processes_resumed_and_with_every_issue_written(tmp_path):
    joined, _ = gsm8k_shards(tmp_path)
    single = validate(joined, write_clean=tmp_path / "a.jsonl", issues_jsonl=tmp_path / "ia.jsonl")
    checks = Checks(format="", spool=True)  # the format detected from the first shard
    sharded = validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=3, workers=2,
                              write_clean=tmp_path / "b.jsonl", issues_jsonl=tmp_path / "ib.jsonl", unit_bytes=100_000)
    assert sharded is not None and sharded.format == "messages"
    assert compared(sharded) == compared(single)
    assert single.counts() == {"duplicate": 33, "no-assistant-turn": 25, "trailing-user-turn": 25,
                               "empty-content": 14}
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    issues = sorted((tmp_path / "ib.jsonl").read_bytes().splitlines())
    assert issues == sorted((tmp_path / "ia.jsonl").read_bytes().splitlines()) and len(issues) == 97
    # a row's shard and line, in the report
    first = sharded.issues[0]
    assert (first.row, sharded.where(first.row)) == (5, "5 (part-000.jsonl:5)")
    assert sharded.where(sharded.shards[2].first_row + 9).endswith("(part-002.jsonl:10)")
    # run again: every task is complete (datatrove's markers), nothing is checked again
    for unit in (tmp_path / "logs" / "units").glob("*.pkl"):
        unit.write_bytes(b"not read again")
    # (the merge is done again on every run, as it writes the user's outputs: it reads every unit, so it fails on the
    # broken ones, and says which task and where its log is)
    with pytest.raises(InputError, match="tasks of stage 'merge' did not finish.*log: .*task_00000.log"):
        validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=3, workers=2,
                        write_clean=tmp_path / "b.jsonl", issues_jsonl=tmp_path / "ib.jsonl")


def test_template_and_tokenizer_checks_travel_to_worker_processes(tmp_path, smollm2_tokenizer):
    """The template and the tokenizer are objects, resolved once at the edge and copied to each task."""
    joined, _ = gsm8k_shards(tmp_path, shards=3)
    with joined.open("a", encoding="utf-8") as f:  # a special token inside content, a long Korean row
        f.write(json.dumps({"messages": [{"role": "user", "content": "<|im_end|> 안녕"},
                                         {"role": "assistant", "content": "네 " * 300}]}, ensure_ascii=False) + "\n")
    (tmp_path / "shards" / "part-004.jsonl").write_bytes(joined.read_bytes().splitlines(keepends=True)[-1])
    from instructkit import Names

    template, tokenizer = Names().template("smollm2"), smollm2_tokenizer
    single = validate(joined, template=template, tokenizer=tokenizer, max_length=200)
    sharded = validate_shards([tmp_path / "shards"], Checks(format="messages", template=template, tokenizer=tokenizer,
                                                            max_length=200),
                              logs=tmp_path / "logs", tasks=2, workers=2)
    assert sharded is not None and compared(sharded) == compared(single)
    assert sharded.template == "smollm2" and sharded.length_unit == "tokens"
    assert {"special-token-in-content", "too-long"} <= set(single.counts())


def test_a_resumed_run_skips_finished_tasks_and_another_run_is_refused_its_folder(tmp_path):
    joined, _ = gsm8k_shards(tmp_path, shards=3)
    checks = Checks(format="messages", max_issues=3)
    first = validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=2, workers=1)
    check_logs = tmp_path / "logs" / "stages" / "check" / "logs"
    before = {p.name: p.stat().st_mtime_ns for p in check_logs.iterdir()}
    again = validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=2, workers=1)
    assert again is not None and first is not None and again.to_json() == first.to_json()
    assert {p.name: p.stat().st_mtime_ns for p in check_logs.iterdir()} == before  # no task ran again
    # another --write-clean on the same run: the check stage is not run again, the new file is written
    validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=2, workers=1,
                    write_clean=tmp_path / "c.jsonl")
    assert {p.name: p.stat().st_mtime_ns for p in check_logs.iterdir()} == before
    validate(joined, write_clean=tmp_path / "a.jsonl")
    assert (tmp_path / "c.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    with pytest.raises(InputError, match="holds another run"):
        validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "logs", tasks=3, workers=1)
    with pytest.raises(InputError, match="not empty and not a run's folder"):
        validate_shards([tmp_path / "shards"], checks, logs=tmp_path / "shards", tasks=2)


def test_a_shard_that_cannot_be_read_fails_its_task_with_one_line_naming_it_and_the_log(tmp_path):
    shards = tmp_path / "shards"
    shards.mkdir()
    (shards / "a.jsonl").write_text('{"messages": [{"role": "user", "content": "hi"}, '
                                    '{"role": "assistant", "content": "yo"}]}\n', encoding="utf-8")
    (shards / "b.jsonl.gz").write_bytes(b"\x1f\x8b\x08\x00 not gzip after all" * 3)
    with pytest.raises(InputError) as failed:
        validate_shards([shards], Checks(format="messages"), logs=tmp_path / "logs", tasks=2, workers=1)
    message = str(failed.value)
    assert "1 of 2 tasks of stage 'check' did not finish" in message and "b.jsonl.gz" in message
    assert "task_00001.log" in message and "\n" not in message


def test_the_command_line(tmp_path):
    joined, shards = gsm8k_shards(tmp_path, shards=2)
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    run = subprocess.run([BIN / "instructkit", "validate", *shards, "--executor", "local", "--tasks", "2",
                          "--logs", str(tmp_path / "logs"), "--json"], capture_output=True, text=True, env=env,
                         cwd=tmp_path)
    assert run.returncode == 1, run.stderr
    report = json.loads(run.stdout)
    assert report["rows"] == 1352 and report["invalid"] == 39
    assert [s["path"] for s in report["shards"]] == shards
    text = subprocess.run([BIN / "instructkit", "validate", *shards, "--executor", "local", "--tasks", "2",
                           "--show", "1"], capture_output=True, text=True, env=env, cwd=tmp_path)
    assert text.returncode == 1
    assert "run folder: instructkit-runs/" in text.stderr and "2 shards, rows numbered across them" in text.stdout
    assert "5 (part-000.jsonl:5)" in text.stdout
    for args, said in ((["--executor", "local", "--fix"], "--fix with --executor"),
                       ([], "several datasets: validate them as the shards of one with --executor local"),
                       (["--executor", "slurm"], "--executor slurm needs --partition"),
                       (["--executor", "local", "--write-clean", "c.parquet"], "writes the clean rows as JSONL")):
        refused = subprocess.run([BIN / "instructkit", "validate", *shards, *args], capture_output=True, text=True,
                                 env=env, cwd=tmp_path)
        assert refused.returncode == 2 and said in refused.stderr, refused.stderr
        assert "Traceback" not in refused.stderr


SLURM_SCRIPT = """#!/bin/bash
#SBATCH --cpus-per-task=2
#SBATCH --mem-per-cpu=4G
#SBATCH --nodes=1
#SBATCH --partition=cpu
#SBATCH --job-name=instructkit-check
#SBATCH --time=1:00:00
#SBATCH --output=LOGS/slurm/check/%A_%a.out
#SBATCH --error=LOGS/slurm/check/%A_%a.out
#SBATCH --array=0-2
#SBATCH --account=nlp
#SBATCH --requeue
#SBATCH --qos=normal
echo "Starting data processing job instructkit-check"
source VENV/bin/activate
set -xe
export PYTHONUNBUFFERED=TRUE
srun  -l -n 1 launch_pickled_pipeline LOGS/stages/check/executor.pik
"""


def test_slurm_queues_each_stage_after_the_one_before_and_its_jobs_give_the_joined_files_report(tmp_path):
    """No Slurm here: `sbatch` and `scontrol` are stand-ins that keep what they are given. The script
    of the first stage is golden; then every job array task is run as Slurm would run it (its
    `launch_pickled_pipeline` line, SLURM_ARRAY_TASK_ID set), stage after stage."""
    joined, shards = gsm8k_shards(tmp_path, shards=3)
    queued, env = slurm_stand_ins(tmp_path)
    logs = tmp_path / "logs"
    args = [BIN / "instructkit", "validate", *shards, "--tasks", "3", "--logs", str(logs),
            "--write-clean", str(tmp_path / "b.jsonl")]
    run = subprocess.run([*args, "--executor", "slurm", "--partition", "cpu", "--time", "1:00:00", "--cpus-per-task",
                          "2", "--mem-per-cpu", "4", "--sbatch", "account=nlp", "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"queued": "slurm", "logs": str(logs), "report": str(logs / "report.json")}
    scripts = sorted(queued.iterdir())
    jobs = [s.read_text() for s in scripts if "merge_stats" not in s.read_text()]
    assert [j.splitlines()[0] for j in jobs] == [
        "# sbatch --export=ALL,RUN_OFFSET=0",
        "# sbatch --export=ALL,RUN_OFFSET=0 --dependency=afterok:100",
        "# sbatch --export=ALL,RUN_OFFSET=0 --dependency=afterok:102",
        "# sbatch --export=ALL,RUN_OFFSET=0 --dependency=afterok:104",
        "# sbatch --export=ALL,RUN_OFFSET=0 --dependency=afterok:106"]
    venv = Path(sys.prefix)
    script = jobs[0].split("\n", 1)[1].replace(str(logs), "LOGS").replace(str(venv), "VENV")
    assert script == SLURM_SCRIPT
    run_as_slurm(logs, (("check", 3), ("duplicates", 3), ("merge", 1), ("clean", 3), ("join", 1)), env, tmp_path)
    single = validate(joined, write_clean=tmp_path / "a.jsonl")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    # the same arguments on the local executor print the report the jobs wrote, checking nothing again
    shown = subprocess.run([*args, "--executor", "local", "--json"], capture_output=True, text=True, env=env,
                           cwd=tmp_path)
    report = json.loads(shown.stdout)
    del report["path"], report["shards"]
    assert report == compared(single)
    assert not list((logs / "stages" / "check").glob("logs/task_*.log")) or \
        all("Skipping" not in p.read_text() for p in (logs / "stages" / "check" / "logs").iterdir())


def test_convert_queued_on_slurm_writes_the_joined_files_rows_when_its_jobs_run(tmp_path):
    from validation.convert import convert

    joined, shards = gsm8k_shards(tmp_path, shards=3)
    queued, env = slurm_stand_ins(tmp_path)
    logs = tmp_path / "logs"
    run = subprocess.run([BIN / "instructkit", "convert", *shards, "--to", "alpaca", "-o", str(tmp_path / "b.jsonl"),
                          "--executor", "slurm", "--partition", "cpu", "--tasks", "2", "--logs", str(logs), "--json"],
                         capture_output=True, text=True, env=env, cwd=tmp_path)
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == {"queued": "slurm", "logs": str(logs), "report": str(logs / "converted.json")}
    assert len([s for s in queued.iterdir() if "merge_stats" not in s.read_text()]) == 2  # convert, then join
    run_as_slurm(logs, (("convert", 2), ("join", 1)), env, tmp_path)
    single = convert(joined, tmp_path / "a.jsonl", to="alpaca")
    assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
    report = json.loads((logs / "converted.json").read_text())
    del report["path"]
    assert report == compared(single)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster(monkeypatch):
    """A Ray head on 127.0.0.1 (two CPUs) with a token of its own, stopped after the test; the
    test's process connects with that token (RAY_ADDRESS, RAY_AUTH_MODE, RAY_AUTH_TOKEN)."""
    import uuid

    ray = shutil.which("ray", path=str(BIN)) or pytest.skip("needs ray (pip install 'instructkit[scale]')")
    port = _free_port()
    temp = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # (Ray's socket paths must stay short)
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex}
    for name, value in auth.items():
        monkeypatch.setenv(name, value)
    started = subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}",
                              "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
                              f"--temp-dir={temp}", "--object-store-memory=100000000"],
                             capture_output=True, text=True, timeout=120, env={**os.environ, **auth})
    assert started.returncode == 0, started.stderr[-2000:]
    try:
        yield f"127.0.0.1:{port}"
    finally:
        import ray as ray_module

        ray_module.shutdown()
        subprocess.run([ray, "stop", "--force"], capture_output=True, timeout=120, env={**os.environ, **auth})
        shutil.rmtree(temp, ignore_errors=True)


def _ran_here(logs: Path, stage: str) -> bool:
    """Whether `stage` ran on datatrove's local executor (its saved settings name a start method) rather than Ray."""
    return "start_method" in json.loads((logs / "stages" / stage / "executor.json").read_text())


def test_ray_executor_on_a_local_cluster_gives_the_joined_files_report(tmp_path, ray_cluster, monkeypatch, capfd):
    """The duplicates of a few rows are resolved in the calling process, of many rows on the cluster: the same
    report and clean rows either way; convert and stats on the cluster give the joined file's rows and summary. A
    cluster of this machine alone does not warn that the run's folder must be shared by every node."""
    import validation.scale.run as run

    monkeypatch.setenv("RAY_ADDRESS", ray_cluster)
    joined, _ = gsm8k_shards(tmp_path, shards=4)
    single = validate(joined, max_issues=4, write_clean=tmp_path / "a.jsonl")
    for here_rows, logs in ((run.RAY_HERE_ROWS, tmp_path / "logs"), (0, tmp_path / "many")):
        monkeypatch.setattr(run, "RAY_HERE_ROWS", here_rows)
        sharded = validate_shards([tmp_path / "shards"], Checks(format="messages", max_issues=4), logs=logs,
                                  executor="ray", tasks=3, write_clean=tmp_path / "b.jsonl", unit_bytes=150_000)
        assert sharded is not None and compared(sharded) == compared(single)
        assert (tmp_path / "b.jsonl").read_bytes() == (tmp_path / "a.jsonl").read_bytes()
        assert len(list((logs / "stages" / "check" / "completions").iterdir())) == 3
        assert [_ran_here(logs, stage) for stage in ("check", "duplicates", "clean")] == [False, here_rows > 0, False]
    from validation.convert import convert
    from validation.scale.convert import Target, convert_shards

    converted = convert(joined, tmp_path / "c.jsonl", to="prompt-completion")
    on_ray = convert_shards([tmp_path / "shards"], tmp_path / "d.jsonl", Target("prompt-completion"),
                            logs=tmp_path / "convert", executor="ray", tasks=3, unit_bytes=150_000)
    assert on_ray is not None and compared(on_ray) == compared(converted)
    assert (tmp_path / "d.jsonl").read_bytes() == (tmp_path / "c.jsonl").read_bytes()
    assert not _ran_here(tmp_path / "convert", "convert")
    from validation.scale.stats import stats_shards
    from validation.statistics.conversations import stats

    described = stats_shards([tmp_path / "shards"], Checks(format="messages", max_length=300), logs=tmp_path / "stats",
                             executor="ray", tasks=3, unit_bytes=150_000)
    assert described.summary.to_json() == stats(joined, max_length=300).summary.to_json()
    assert not _ran_here(tmp_path / "stats", "stats")
    from validation.scale.executors import SHARED_FOLDER

    assert SHARED_FOLDER not in capfd.readouterr().err


def test_the_script_in_docs_scale_runs_as_written(tmp_path, monkeypatch, capsys):
    """docs/scale.md's library example, in a folder holding `shards/` (gsm8k's rows, with defects)."""
    from instructkit import Names

    joined, _ = gsm8k_shards(tmp_path, shards=3)
    script = re.search(r"```python\n(.*?)```", (ROOT / "docs" / "scale.md").read_text(encoding="utf-8"), re.S).group(1)
    monkeypatch.chdir(tmp_path)
    exec(compile(script, "docs/scale.md", "exec"), {})
    single = validate(joined, template=Names().template("smollm2"), max_issues=100)
    assert capsys.readouterr().out == f"{single.rows} {single.invalid} {single.counts()}\n"
    assert (tmp_path / "clean.jsonl").is_file() and (tmp_path / "runs" / "train" / "report.json").is_file()


def test_each_shards_images_are_read_from_its_own_folder_in_worker_processes(tmp_path):
    """Relative image paths are read from the shard's folder (or --image-root), as validate reads them
    from the file's: shards in two folders, each beside its own pictures."""
    red = (ROOT / "tests" / "data" / "broken" / "images" / "red.png").read_bytes()
    shards = []
    for n, name in enumerate(("a", "b")):
        folder = tmp_path / name
        (folder / "pics").mkdir(parents=True)
        (folder / "pics" / f"{name}.png").write_bytes(red)
        rows = [{"messages": [{"role": "user", "content": [{"type": "image"}, {"type": "text", "text": f"{q} {n}"}]},
                              {"role": "assistant", "content": "Red."}], "images": [f"pics/{picture}"]}
                for q, picture in (("What colour?", f"{name}.png"), ("무슨 색?", "missing.png"))]
        shards.append(folder / "part.jsonl")
        shards[-1].write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    report = validate_shards(shards, Checks(format="messages"), logs=tmp_path / "logs", tasks=2, workers=2)
    assert report is not None and report.valid == 2
    assert [(i.row, i.path, i.code) for i in report.issues] == [(2, "images[0]", "image-not-found"),
                                                                (4, "images[0]", "image-not-found")]
    assert f"relative paths are read from {tmp_path / 'b'}" in report.issues[1].message

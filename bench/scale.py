"""Sharded validate on datatrove's executors against today's single-machine command, same run, same data.

Usage: python bench/scale.py [--gb 2] [--shards 16] [--runs 3] [--no-ray] [--convert] [--stats] [--no-validate]

The dataset: `--shards` JSONL shards of `--gb` GB in all, the languages of bench/corpus.py in turn
(en, ko, mixed scripts, `\\uXXXX`-escaped, gsm8k's real rows), every row distinct; the single-machine
command reads the same rows joined into one file. Each figure is the median of `--runs` runs of
`instructkit validate ... --json` in a subprocess (a fresh --logs folder each time: nothing resumed), the
commands run in turn, one run of each per round.
Ratios printed:
  * local, 2 tasks vs 1 task (target >= 1.7x on 2 cores)
  * Ray, 2 tasks vs local, 2 tasks (target: within 15 %) — both timed, in turn, with a Ray head
    started first on 127.0.0.1, as a user's cluster is up before the command
  * the floor: reading the bytes in 1 and 2 processes (how far 2 cores go on this machine)
  * local, 1 task vs the single-machine command, both held to one CPU with `taskset -c 0` (target:
    overhead <= 10 %); and the single-machine command on every CPU for reference.
  * with --convert: `convert --to sharegpt` of the shards on 2 local tasks vs of the joined file (`convert` runs
    in one process), the two outputs compared byte for byte.
  * with --stats: `stats --max-length 2048` of the shards on 2 local tasks vs of the joined file (`stats` reads it
    in a thread per CPU), and on 1 task vs `stats` on 1 CPU; the summaries compared.
  * --no-validate leaves out validate's figures (and Ray's).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import GSM8K, write_jsonl  # noqa: E402

BIN = Path(sys.executable).parent


def make_shards(folder: Path, gb: float, shards: int) -> tuple[list[Path], Path]:
    """The shards (languages in turn, distinct rows: each shard its own seed) and their join."""
    langs = ["en", "ko", "mixed", "escaped"] + (["real"] if GSM8K.exists() else [])
    target = gb * (1 << 30) / shards
    paths = []
    for n in range(shards):
        lang = langs[n % len(langs)]
        path = folder / f"part-{n:03d}-{lang}.jsonl"
        sample = folder / "sample.jsonl"
        write_jsonl(sample, lang, 2000, seed=10_000 + n, with_id=True)
        rows = int(target / (sample.stat().st_size / 2000))
        write_jsonl(path, lang, rows, seed=n * 1_000_003, with_id=True)
        if lang == "real":  # gsm8k cycled: number each copy so that the rows stay distinct
            _number(path, n)
        paths.append(path)
    joined = folder / "all.jsonl"
    with joined.open("wb") as out:
        for path in paths:
            with path.open("rb") as f:
                shutil.copyfileobj(f, out, 1 << 24)
    return paths, joined


def _number(path: Path, shard: int) -> None:
    lines = path.read_bytes().splitlines()
    with path.open("wb") as out:
        for i, line in enumerate(lines):
            row = json.loads(line)
            row["id"] = f"{shard}-{i}"
            out.write(json.dumps(row, ensure_ascii=False).encode() + b"\n")


# Reads every shard's bytes in blocks and sums one byte a block (so nothing is optimised away), in N processes
# that split the shards: the floor any check of these bytes stands on, and how it scales on this machine.
READ_FLOOR = """
import json, sys
from multiprocessing import Pool
def read(paths):
    total = 0
    for p in paths:
        with open(p, "rb", buffering=0) as f:
            while block := f.read(1 << 22):
                total += block[-1]
    return total
paths, n = sys.argv[1:-1], int(sys.argv[-1])
with Pool(n) as pool:
    print(json.dumps({"sum": sum(pool.map(read, [paths[k::n] for k in range(n)]))}))
"""


def timed(cmd: list[str], env: dict[str, str]) -> tuple[float, dict]:
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True, env=env)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"{' '.join(cmd)}\n{done.stderr[-3000:]}")
    return elapsed, json.loads(done.stdout)


def medians_in_turn(runs: int, commands: dict[str, list[str]], env: dict[str, str],
                    logs: Path) -> tuple[dict[str, float], dict[str, dict]]:
    """Each command run once per round, the commands in turn, `runs` rounds (a fresh `logs` folder each run):
    the median time and the last report of each. Run in turn, not one command's runs after another's, so that
    a drift of the machine's speed during the benchmark (seen here: 10-15 %) falls on every command alike."""
    times: dict[str, list[float]] = {name: [] for name in commands}
    reports: dict[str, dict] = {}
    for _ in range(runs):
        for name, cmd in commands.items():
            shutil.rmtree(logs, ignore_errors=True)
            elapsed, reports[name] = timed(cmd, env)
            times[name].append(elapsed)
    return {name: statistics.median(t) for name, t in times.items()}, reports


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gb", type=float, default=2.0)
    parser.add_argument("--shards", type=int, default=16)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-ray", action="store_true")
    parser.add_argument("--convert", action="store_true", help="also convert (to sharegpt): the sharded command on "
                        "2 tasks against `convert` on the joined file")
    parser.add_argument("--stats", action="store_true", help="also stats: the sharded command on 2 tasks and 1 task "
                        "against `stats` on the joined file")
    parser.add_argument("--no-validate", action="store_true", help="leave out validate (and Ray)")
    args = parser.parse_args()
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory(prefix="scale-bench-") as tmp:
        folder = Path(tmp)
        shards, joined = make_shards(folder, args.gb, args.shards)
        size = joined.stat().st_size
        print(f"{args.shards} shards, {size / 1e9:.2f} GB, {cpus} CPUs; median of {args.runs} runs each")
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        ik = [str(BIN / "instructkit"), "validate"]
        one = ["taskset", "-c", "0"]
        logs = folder / "logs"
        sharded = [*ik, *map(str, shards), "--json", "--logs", str(logs), "--executor"]
        read = [str(BIN / "python"), "-c", READ_FLOOR, *map(str, shards)]
        results, reports = medians_in_turn(args.runs, {
            "read floor, 1 process": [*read, "1"],
            "read floor, 2 processes": [*read, "2"],
            **({} if args.no_validate else {
                "single, all CPUs": [*ik, str(joined), "--json"],
                "single, 1 CPU": [*one, *ik, str(joined), "--json"],
                "local, 1 task, 1 CPU": [*one, *sharded, "local", "--tasks", "1"],
                "local, 2 tasks": [*sharded, "local", "--tasks", "2"]})}, env, logs)
        if not args.no_validate:
            expected, report = reports["single, all CPUs"], reports["local, 1 task, 1 CPU"]
            assert report["rows"] == expected["rows"] and report["counts"] == expected["counts"]
        if not args.no_ray and not args.no_validate:
            results.update(_ray(args.runs, sharded, env, logs))
        if args.convert:
            results.update(_convert(args.runs, folder, shards, joined, env, logs))
        if args.stats:
            results.update(_stats(args.runs, shards, joined, env, logs))
        for name, seconds in results.items():
            print(f"  {name:24s} {seconds:7.2f} s  {size / seconds / 1e6:7.1f} MB/s")
        print(f"read floor, 2 processes vs 1:       "
              f"{results['read floor, 1 process'] / results['read floor, 2 processes']:.2f}x (what 2 cores give "
              "reading these bytes here)")
        if not args.no_validate:
            print(f"single-machine, all CPUs vs 1 CPU:  {results['single, 1 CPU'] / results['single, all CPUs']:.2f}x")
            print(f"local 2 tasks vs 1 task:            "
                  f"{results['local, 1 task, 1 CPU'] / results['local, 2 tasks']:.2f}x (target >= 1.7x)")
        if "ray, 2 tasks" in results:
            print(f"ray vs local (2 tasks, time):       "
                  f"{results['ray, 2 tasks'] / results['local, 2 tasks, Ray up']:.2f}x (target <= 1.15x)")
        if not args.no_validate:
            print(f"local 1 task vs single (1 CPU):     "
                  f"{results['local, 1 task, 1 CPU'] / results['single, 1 CPU']:.2f}x time (target <= 1.10x)")
        if args.stats:
            print(f"stats, local 2 tasks vs 1 task:     "
                  f"{results['stats, local, 1 task, 1 CPU'] / results['stats, local, 2 tasks']:.2f}x")
            print(f"stats, local 2 tasks vs single:     "
                  f"{results['stats, single, all CPUs'] / results['stats, local, 2 tasks']:.2f}x (the summaries equal)")
            print(f"stats, local 1 task vs single (1 CPU): "
                  f"{results['stats, local, 1 task, 1 CPU'] / results['stats, single, 1 CPU']:.2f}x time")
        if args.convert:
            print(f"convert, local 2 tasks vs single:   "
                  f"{results['convert, single'] / results['convert, local, 2 tasks']:.2f}x (the outputs identical)")


def _convert(runs: int, folder: Path, shards: list[Path], joined: Path, env: dict[str, str],
             logs: Path) -> dict[str, float]:
    """`convert --to sharegpt` of the shards on 2 local tasks and of the joined file, in turn; the outputs compared."""
    convert = [str(BIN / "instructkit"), "convert"]
    found, _ = medians_in_turn(runs, {
        "convert, single": [*convert, str(joined), "--to", "sharegpt", "-o", str(folder / "a.jsonl"), "--json"],
        "convert, local, 2 tasks": [*convert, *map(str, shards), "--to", "sharegpt", "-o", str(folder / "b.jsonl"),
                                    "--json", "--executor", "local", "--tasks", "2", "--logs", str(logs)]}, env, logs)
    assert (folder / "a.jsonl").read_bytes() == (folder / "b.jsonl").read_bytes()
    return found


def _stats(runs: int, shards: list[Path], joined: Path, env: dict[str, str], logs: Path) -> dict[str, float]:
    """`stats` of the shards on 2 local tasks and on 1 (one CPU), and of the joined file on every CPU and on one, in
    turn; the summaries compared."""
    stats = [str(BIN / "instructkit"), "stats"]
    options = ["--max-length", "2048", "--json"]  # (--json last: it takes an optional file name)
    sharded = [*stats, *map(str, shards), "--logs", str(logs), "--executor", "local"]
    one = ["taskset", "-c", "0"]
    found, reports = medians_in_turn(runs, {
        "stats, single, all CPUs": [*stats, str(joined), *options],
        "stats, single, 1 CPU": [*one, *stats, str(joined), *options],
        "stats, local, 1 task, 1 CPU": [*one, *sharded, "--tasks", "1", *options],
        "stats, local, 2 tasks": [*sharded, "--tasks", "2", *options]}, env, logs)
    summaries = [{k: v for k, v in report.items() if k != "path"} for report in reports.values()]
    assert all(summary == summaries[0] for summary in summaries)
    return found


def _ray(runs: int, sharded: list[str], env: dict[str, str], logs: Path) -> dict[str, float]:
    """The Ray executor and the local one in turn, on a Ray head started first on 127.0.0.1 with all CPUs (and
    stopped after): the local one is timed with the head up too, as a user's cluster is up before the command."""
    ray = str(BIN / "ray")
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": uuid.uuid4().hex + uuid.uuid4().hex}
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    subprocess.run([ray, "start", "--head", "--node-ip-address=127.0.0.1", "--port=6390", "--include-dashboard=false",
                    "--disable-usage-stats", f"--temp-dir={temp}", "--object-store-memory=200000000"],
                   check=True, capture_output=True, env={**env, **auth})
    try:
        found, _ = medians_in_turn(runs, {"local, 2 tasks, Ray up": [*sharded, "local", "--tasks", "2"],
                                          "ray, 2 tasks": [*sharded, "ray", "--tasks", "2"]},
                                   {**env, **auth, "RAY_ADDRESS": "127.0.0.1:6390"}, logs)
        return found
    finally:
        subprocess.run([ray, "stop", "--force"], capture_output=True, env={**env, **auth})
        shutil.rmtree(temp, ignore_errors=True)


if __name__ == "__main__":
    main()

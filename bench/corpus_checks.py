"""The corpus checks against their baselines: `validate --near-dup` and `validate --decontaminate`.

Usage: python bench/corpus_checks.py [--near-rows 1000000] [--decont-rows 100000] [--lang all|en|ko|...]

Per language (bench/corpus.py), in one run:
- near-duplicates: N conversations, one in twenty a copy of an earlier one with its punctuation
  changed; `instructkit validate FILE --json --near-dup` (a subprocess, as users run it) next to
  plain `validate --json` and the floor (`json.loads` of every line), with the peak RSS of each
  command. Targets (#35): <= 60 s and <= 4 GB for 1M conversations on this 2-core machine.
- contamination: 100k conversations, one in a hundred a gsm8k test question with a prefix;
  `validate --decontaminate gsm8k/test.jsonl` in rows/s next to plain `validate`. Target: >= 20k
  rows/s. Skipped without ../shared.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import GSM8K, add_lang_argument, chosen, conversations, dumps  # noqa: E402
from validate import byte_compiled, floor, validate_cli  # noqa: E402


def write(path: Path, lang: str, n: int, *, near_every: int = 0, bench_every: int = 0) -> None:
    """`n` rows: every `near_every`-th a punctuation-changed copy of an earlier row, every
    `bench_every`-th a gsm8k test question asked with a prefix."""
    rng = random.Random(7)
    questions = [json.loads(line)["question"] for line in GSM8K.read_text(encoding="utf-8").splitlines()] \
        if bench_every else []
    kept: list[list[dict]] = []
    with path.open("w", encoding="utf-8") as f:
        for i, messages in enumerate(conversations(lang, n)):
            if near_every and i % near_every == near_every - 1 and kept:
                messages = [{**m, "content": m["content"] + "!"} for m in rng.choice(kept)]
            elif bench_every and i % bench_every == bench_every - 1:
                messages = [{"role": "user", "content": "Please solve: " + rng.choice(questions)},
                            {"role": "assistant", "content": messages[-1]["content"]}]
            elif len(kept) < 1000:
                kept.append(messages)
            f.write(dumps({"messages": messages}, lang) + "\n")


def peak_of(*args: str) -> float:
    """Peak RSS (MB) of a command, measured by GNU time's wait4 (children included)."""
    cmd = ["/usr/bin/time", "-f", "%M", sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())",
           *args, "--json"]
    done = subprocess.run(cmd, capture_output=True, text=True)
    return int(done.stderr.strip().splitlines()[-1]) / 1024


def near(lang: str, rows: int, folder: Path) -> None:
    path = folder / f"near-{lang}.jsonl"
    write(path, lang, rows, near_every=20)
    size = path.stat().st_size / 1e6
    json_floor = floor(path)
    plain, _ = validate_cli(path)
    found, report = validate_cli(path, "--near-dup")
    peak = peak_of("validate", str(path), "--near-dup")
    n = report["near_duplicates"]
    print(f"{lang:8} near-dup {rows:,} rows ({size:,.0f} MB): {found:6.1f} s, peak {peak:,.0f} MB; plain validate "
          f"{plain:5.1f} s (x{found / plain:.1f}); json.loads floor {json_floor:5.1f} s; "
          f"{n['clusters']:,} clusters, {n['dropped']:,} rows dropped (planted {rows // 20:,})", flush=True)
    path.unlink()


def decontaminate(lang: str, rows: int, folder: Path) -> None:
    path = folder / f"decont-{lang}.jsonl"
    write(path, lang, rows, bench_every=100)
    plain, _ = validate_cli(path)
    found, report = validate_cli(path, "--decontaminate", str(GSM8K))
    c = report["contamination"]
    print(f"{lang:8} decontaminate {rows:,} rows: {rows / found:,.0f} rows/s ({found:.1f} s); plain validate "
          f"{rows / plain:,.0f} rows/s (x{found / plain:.1f} the time); {c['contaminated']:,} rows caught "
          f"(planted {rows // 100:,})", flush=True)
    path.unlink()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--near-rows", type=int, default=1_000_000)
    parser.add_argument("--decont-rows", type=int, default=100_000)
    add_lang_argument(parser)
    args = parser.parse_args()
    byte_compiled()
    print(f"CPU: {os.cpu_count()} cores visible, {len(os.sched_getaffinity(0))} usable")
    with tempfile.TemporaryDirectory() as tmp:
        for lang in chosen(args.lang):
            if args.near_rows:
                near(lang, args.near_rows, Path(tmp))
            if args.decont_rows and GSM8K.exists():
                decontaminate(lang, args.decont_rows, Path(tmp))


if __name__ == "__main__":
    main()

"""Validation throughput against the floor: stdlib `json.loads` per line, doing nothing else.

Usage: python bench/validate.py [--rows 200000] [--lang all|en|ko|mixed|escaped|real] [--big-gb 0] [--tools]
       [--parts]
Per language (bench/corpus.py): rows/s and MB/s of `instructkit validate --json` (a subprocess,
all checks on) next to the floor measured in the same run, and their ratio. With --big-gb N it
also validates an N-GB file of each language and prints the validator's peak RSS. With --tools
every row declares two tools and makes one or two calls checked against their JSON Schemas
(bench/corpus.py `with_tool_calls`; target >= 0.5x the floor). With --parts every content is
written as OpenAI text parts (bench/corpus.py `as_text_parts`; target >= 0.8x the floor).
"""

from __future__ import annotations

import argparse
import compileall
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import add_lang_argument, chosen, write_jsonl  # noqa: E402


def make_file(path: Path, rows: int, lang: str = "en", seed: int = 0, tools: bool = False,
              parts: bool = False) -> None:
    """Multi-turn chat rows (system prompt on some, 1-4 exchanges, 5-150 words per turn)."""
    write_jsonl(path, lang, rows, seed=seed, with_id=True, tools=tools, parts=parts)


def floor(path: Path) -> float:
    start = time.perf_counter()
    with path.open("rb") as f:
        for line in f:
            json.loads(line)
    return time.perf_counter() - start


def byte_compiled() -> None:
    """The package byte-compiled, as `pip install` leaves it: an editable install run with
    PYTHONDONTWRITEBYTECODE=1 (as on this machine) would compile every module of every CLI run
    from source, about 0.1 s that no installed copy spends."""
    root = Path(__file__).parents[1]
    for name in ("validation", "templating", "training"):
        compileall.compile_dir(root / name, quiet=1)
    compileall.compile_file(root / "instructkit.py", quiet=1)


def validate_cli(path: Path, *options: str) -> tuple[float, dict]:
    """(seconds, --json report) of `instructkit validate PATH --json OPTIONS` in a subprocess."""
    cmd = [sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())",
           "validate", str(path), "--json", *options]
    start = time.perf_counter()
    done = subprocess.run(cmd, capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return elapsed, json.loads(done.stdout)


def peak_rss_mb(path: Path) -> tuple[float, float]:
    """Peak resident memory (MB) of the validating process and of its largest worker process."""
    cmd = [sys.executable, "-c", "import sys, instructkit, resource as r; instructkit.main(['validate', sys.argv[1], "
           "'--json']); print(r.getrusage(r.RUSAGE_SELF).ru_maxrss / 1024, r.getrusage(r.RUSAGE_CHILDREN).ru_maxrss "
           "/ 1024, file=sys.stderr)", str(path)]
    done = subprocess.run(cmd, capture_output=True, text=True, check=False)
    main, worker = map(float, done.stderr.strip().splitlines()[-1].split())
    return main, worker


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--big-gb", type=float, default=0)
    parser.add_argument("--tools", action="store_true", help="tool-calling rows, calls checked against the tools")
    parser.add_argument("--parts", action="store_true", help="contents written as text parts")
    add_lang_argument(parser)
    args = parser.parse_args()
    for lang in chosen(args.lang):
        print(f"--- {lang}{' (tool calls)' if args.tools else ''}{' (text parts)' if args.parts else ''}")
        run(lang, args.rows, args.big_gb, args.tools, args.parts)


def timed(path: Path, runs: int = 3) -> tuple[float, float, dict]:
    """(floor seconds, validate seconds, its report): the median of `runs` each, the page cache warm."""
    byte_compiled()
    floor(path)
    base = statistics.median(floor(path) for _ in range(runs))
    results = sorted((validate_cli(path) for _ in range(runs)), key=lambda r: r[0])
    ours, report = results[len(results) // 2]
    return base, ours, report


def run(lang: str, rows: int, big_gb: float, tools: bool = False, parts: bool = False) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "chat.jsonl"
        make_file(path, rows, lang, tools=tools, parts=parts)
        mb = path.stat().st_size / 1e6
        base, ours, report = timed(path)
        print(f"file: {rows} rows, {mb:.1f} MB; valid {report['valid']}, issues {len(report['issues'])}")
        print(f"floor json.loads/line : {rows / base:>10,.0f} rows/s {mb / base:8.1f} MB/s")
        print(f"instructkit validate  : {rows / ours:>10,.0f} rows/s {mb / ours:8.1f} MB/s "
              f"(whole CLI, start-up included)")
        print(f"ratio vs floor [{lang}]: {base / ours:.2f}x (target >= {0.5 if tools else 0.8 if parts else 1.0})")
        if big_gb:
            big = Path(tmp) / "big.jsonl"
            make_file(big, int(rows * big_gb * 1000 / mb), lang, tools=tools, parts=parts)
            main_mb, worker_mb = peak_rss_mb(big)
            print(f"big file {big.stat().st_size / 1e9:.2f} GB: peak RSS {main_mb:.0f} MB (main process), "
                  f"{worker_mb:.0f} MB (largest worker)")


if __name__ == "__main__":
    main()

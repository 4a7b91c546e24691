"""Compressed JSONL against the same file uncompressed: `validate` and `stats` speed.

Usage: python bench/compressed.py [--rows 200000] [--lang all|en|ko|mixed|escaped|real] [--kinds gz,bz2,xz]
       python bench/compressed.py --repetitive-gb 2
Per language (bench/corpus.py) and compression: the seconds of `instructkit validate --json`
and `instructkit stats --json -` (subprocesses, start-up included) on the compressed file next
to the plain file measured in the same run, and the ratio plain / compressed (speed relative to
the plain file; target >= 0.7 for gzip).
"""

from __future__ import annotations

import argparse
import bz2
import gzip
import lzma
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from corpus import add_lang_argument, chosen, write_jsonl  # noqa: E402

OPENERS = {"gz": gzip.open, "bz2": bz2.open, "xz": lzma.open}


def seconds(command: str, path: Path) -> float:
    """Best of three runs of `instructkit COMMAND PATH --json` (stats: `--json -`)."""
    cmd = [sys.executable, "-c", "import sys, instructkit; sys.exit(instructkit.main())", command, str(path),
           "--json", *(["-"] if command == "stats" else [])]
    best = float("inf")
    for _ in range(3):
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        best = min(best, time.perf_counter() - start)
        if done.returncode not in (0, 1):
            raise SystemExit(done.stderr)
    return best


def run(lang: str, rows: int, kinds: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        plain = Path(tmp) / "chat.jsonl"
        write_jsonl(plain, lang, rows, seed=0, with_id=True)
        data = plain.read_bytes()
        print(f"file: {rows} rows, {len(data) / 1e6:.1f} MB")
        for kind in kinds:
            packed = Path(tmp) / f"chat.jsonl.{kind}"
            with OPENERS[kind](packed, "wb") as f:
                f.write(data)
            for command in ("validate", "stats"):
                base, ours = seconds(command, plain), seconds(command, packed)
                print(f"{command:8} .{kind:3} {packed.stat().st_size / 1e6:7.1f} MB: plain {base:6.2f} s, "
                      f"compressed {ours:6.2f} s; speed vs plain [{lang}]: {base / ours:.2f}x"
                      + (" (target >= 0.7)" if kind == "gz" else ""))


def repetitive(gb: float) -> None:
    """Validate `gb` GB of one row repeated (gzipped): seconds, peak RSS, counts."""
    import json

    line = (json.dumps({"messages": [{"role": "user", "content": "What is the capital of France? Answer briefly."},
                                     {"role": "assistant", "content": "Paris is the capital of France."}]})
            + "\n").encode()
    copies = int(gb * 1e9 / len(line))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "same.jsonl.gz"
        with gzip.open(path, "wb", compresslevel=6) as f:
            for start in range(0, copies, 100_000):
                f.write(line * min(100_000, copies - start))
        cmd = [sys.executable, "-c", "import sys, resource, instructkit; code = instructkit.main(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, resource.getrusage("
               "resource.RUSAGE_CHILDREN).ru_maxrss / 1024, file=sys.stderr); sys.exit(code)",
               "validate", str(path), "--json"]
        start = time.perf_counter()
        done = subprocess.run(cmd, capture_output=True, text=True)
        elapsed = time.perf_counter() - start
        main_mb, worker_mb = map(float, done.stderr.strip().splitlines()[-1].split())
        report = json.loads(done.stdout)
        print(f"{copies:,} copies ({copies * len(line) / 1e9:.2f} GB, {path.stat().st_size / 1e6:.1f} MB gz): "
              f"{elapsed:.1f} s, peak RSS {main_mb:.0f} MB (largest worker {worker_mb:.0f} MB; target < 500); "
              f"counts {report['counts']}, listed {len(report['issues'])}, left out {report['issues_left_out']:,}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--kinds", default="gz", help="comma-separated: gz, bz2, xz")
    parser.add_argument("--repetitive-gb", type=float, default=0, help="only: validate N GB of one row repeated")
    add_lang_argument(parser)
    args = parser.parse_args()
    if args.repetitive_gb:
        repetitive(args.repetitive_gb)
        return
    for lang in chosen(args.lang):
        print(f"--- {lang}")
        run(lang, args.rows, args.kinds.split(","))


if __name__ == "__main__":
    main()

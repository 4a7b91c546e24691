"""Bounded reading against its floor, and a compression bomb's memory.

Usage: python bench/hostile.py [--rows 200000] [--lang all|en|ko|mixed|escaped|real] [--bomb-mb 2048]

1. Per language (bench/corpus.py): the records path's line reader (`validation.readers.files.lines_of`, which
   bounds every line by --max-row-bytes) against the floor it replaced, the file object's own
   `readlines(1 MiB)` loop, both over the same open file, alternated five times; medians and their
   ratio (1.0x: the bound costs nothing).
2. A `.jsonl.gz` holding one line of --bomb-mb MB between two normal rows: the peak RSS of
   `instructkit validate` and `stats` on it, next to their peak RSS on a one-row file (the process
   itself) and the size of the line.
"""

from __future__ import annotations

import argparse
import gzip
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).parent.parent))
from corpus import add_lang_argument, chosen, write_jsonl  # noqa: E402

from validation.readers.files import CHUNK_BYTES, lines_of  # noqa: E402

ROW = {"messages": [{"role": "user", "content": "안녕하세요"}, {"role": "assistant", "content": "hello"}]}


def floor_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        while lines := f.readlines(CHUNK_BYTES):
            count += len(lines)
    return count


def bounded_lines(path: Path) -> int:
    count = 0
    with path.open("rb") as f:
        for _ in lines_of(f):
            count += 1
    return count


def timed(function, path: Path) -> tuple[float, int]:  # noqa: ANN001
    start = time.perf_counter()
    count = function(path)
    return time.perf_counter() - start, count


def reading(path: Path, lang: str) -> None:
    floor, ours = [], []
    for _ in range(5):
        t_floor, n_floor = timed(floor_lines, path)
        t_ours, n_ours = timed(bounded_lines, path)
        assert n_floor == n_ours, (n_floor, n_ours)
        floor.append(t_floor)
        ours.append(t_ours)
    mb = path.stat().st_size / 1e6
    f, o = statistics.median(floor), statistics.median(ours)
    print(f"{lang:8} {mb:7.1f} MB  readlines floor {f * 1000:7.1f} ms  bounded lines {o * 1000:7.1f} ms  "
          f"ratio {f / o:.2f}x (1.0x: no cost)")


def peak_mb(*args: str) -> float:
    code = ("import resource, sys, instructkit; instructkit.main(sys.argv[1:]); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr)")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True)
    return float(done.stderr.strip().splitlines()[-1])


def bomb(folder: Path, megabytes: int) -> None:
    path = folder / "bomb.jsonl.gz"
    with gzip.open(path, "wb", compresslevel=9) as f:
        f.write(json.dumps(ROW).encode() + b"\n" + b'{"messages": [{"role": "user", "content": "')
        block = b"a" * (1 << 20)
        for _ in range(megabytes):
            f.write(block)
        f.write(b'"}]}\n' + json.dumps(ROW, ensure_ascii=False).encode() + b"\n")
    small = folder / "small.jsonl"
    small.write_text(json.dumps(ROW) + "\n")
    print(f"bomb: {path.stat().st_size / 1e6:.1f} MB of gzip holding a line of {megabytes:,} MB")
    for command in ("validate", "stats"):
        base = peak_mb(command, str(small), "--json")
        limited = peak_mb(command, str(path), "--json")
        small_limit = peak_mb(command, str(path), "--json", "--max-row-bytes", str(1 << 20))
        print(f"  {command:8} peak RSS: one-row file {base:6.0f} MB; the bomb {limited:6.0f} MB (default limit "
              f"256 MiB); with --max-row-bytes 1048576 {small_limit:6.0f} MB")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--bomb-mb", type=int, default=2048)
    add_lang_argument(parser)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for lang in chosen(args.lang):
            path = folder / f"{lang}.jsonl"
            write_jsonl(path, lang, args.rows)
            reading(path, lang)
        if args.bomb_mb:
            bomb(folder, args.bomb_mb)


if __name__ == "__main__":
    main()

"""Image checks of `validate`: images checked per second, and peak memory against the number of images.

Usage: python bench/images.py [--images 10000] [--size 640x480]

Writes `--images` distinct pictures (PNG and JPEG, half each, `--size` pixels, drawn with Pillow) and
one row per picture in the Hugging Face layout (`{"type": "image"}` + the row's `images`; questions
in English and Korean), then times `instructkit validate --json` in a subprocess (the median of
three) against the same rows without their images (the text-only baseline of the same run): the
difference is the time the image checks take. Peak RSS is measured at a tenth of the images and at
all of them: Pillow reads each header only, so it should not grow with the number of images.
Target: >= 2,000 images/s on 2 cores; peak RSS independent of the number of images.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

QUESTIONS = ("What is in this picture?", "이 사진에는 무엇이 있나요?", "Describe the colours.", "무슨 색인가요?")


def write(folder: Path, n: int, size: tuple[int, int]) -> tuple[Path, Path]:
    """(rows with images, the same rows without them) for `n` pictures written into `folder`."""
    from PIL import Image, ImageDraw

    rng = random.Random(0)
    (folder / "images").mkdir()
    with_images, text_only = [], []
    for i in range(n):
        image = Image.new("RGB", size, tuple(rng.randrange(256) for _ in range(3)))
        w, h = size
        ImageDraw.Draw(image).ellipse((i % (w // 4), i % (h // 4), w // 2, h // 2), fill=(i % 256, 80, 160))
        name = f"images/{i:06d}.{'png' if i % 2 else 'jpg'}"
        image.save(folder / name)
        question, answer = QUESTIONS[i % len(QUESTIONS)], f"Picture {i}: a circle on a plain background."
        with_images.append({"messages": [{"role": "user", "content": [{"type": "image"},
                                                                      {"type": "text", "text": question}]},
                                         {"role": "assistant", "content": answer}], "images": [name]})
        text_only.append({"messages": [{"role": "user", "content": [{"type": "text", "text": question}]},
                                       {"role": "assistant", "content": answer}], "id": i})
    paths = folder / "images.jsonl", folder / "text.jsonl"
    for path, rows in zip(paths, (with_images, text_only)):
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return paths


def run(path: Path) -> tuple[float, float, dict]:
    """(seconds, peak RSS in MB, --json report) of one `instructkit validate` subprocess."""
    code = ("import resource, sys, instructkit; code = instructkit.main(['validate', sys.argv[1], '--json']); "
            "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, file=sys.stderr); sys.exit(code)")
    start = time.perf_counter()
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True)
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(done.stderr)
    return elapsed, float(done.stderr.strip().splitlines()[-1]), json.loads(done.stdout)


def median_run(path: Path, runs: int = 3) -> tuple[float, float, dict]:
    results = [run(path) for _ in range(runs)]
    return statistics.median(r[0] for r in results), max(r[1] for r in results), results[-1][2]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--images", type=int, default=10_000)
    parser.add_argument("--size", default="640x480")
    args = parser.parse_args()
    size = tuple(int(v) for v in args.size.split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        small_dir, big_dir = Path(tmp) / "small", Path(tmp) / "big"
        small_dir.mkdir()
        big_dir.mkdir()
        small, _ = write(small_dir, max(args.images // 10, 1), size)  # type: ignore[arg-type]
        images, text = write(big_dir, args.images, size)  # type: ignore[arg-type]
        megabytes = sum(p.stat().st_size for p in (big_dir / "images").iterdir()) / 1e6
        median_run(text, 1)  # (the page cache warm, the package compiled)
        base, base_rss, _ = median_run(text)
        ours, rss, report = median_run(images)
        _, small_rss, _ = median_run(small)
        checked = ours - base
        print(f"{args.images} images ({args.size}, PNG and JPEG, {megabytes:.0f} MB); report: {report['valid']} "
              f"valid, {len(report['issues'])} issues")
        print(f"validate, text only       : {base:6.2f} s (median of 3), peak RSS {base_rss:.0f} MB")
        print(f"validate, with the images : {ours:6.2f} s (median of 3), peak RSS {rss:.0f} MB")
        print(f"image checks              : {args.images / checked:,.0f} images/s (target >= 2,000); "
              f"{args.images / ours:,.0f} rows/s whole command")
        print(f"peak RSS, {args.images // 10} vs {args.images} images: {small_rss:.0f} MB vs {rss:.0f} MB "
              f"(target: independent of the number of images)")


if __name__ == "__main__":
    main()

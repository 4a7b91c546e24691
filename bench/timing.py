"""In-process timing for the benchmarks that compare functions in one Python process (render.py,
render_templates.py): medians of samples taken in turn, with the collector's full passes counted.

The collector runs as it does for users (a training script has transformers' heap to walk):
nothing is collected or frozen between samples, and how many full (oldest-generation) passes fell
inside each side's samples is reported beside its time."""

from __future__ import annotations

import gc
import math
import statistics
import time
from collections.abc import Callable


class FullCollections:
    """Counts the cycle collector's full passes while in the `with` block."""

    def __enter__(self) -> FullCollections:
        self.count = 0
        gc.callbacks.append(self._seen)
        return self

    def _seen(self, phase: str, info: dict) -> None:
        if phase == "stop" and info["generation"] == len(gc.get_count()) - 1:  # the oldest generation
            self.count += 1

    def __exit__(self, *exc: object) -> None:
        gc.callbacks.remove(self._seen)


def paired_medians(sides: dict[str, Callable[[], object]], runs: int = 7, min_seconds: float = 0.05
                   ) -> tuple[dict[str, float], dict[str, int]]:
    """Median seconds of one call of each side, and the full collections each side's samples held.
    Samples are taken in turn (a, b, a, b, ...), so that the machine's drift falls on every side
    alike; a sample repeats its call until it lasts `min_seconds` (a 2 ms loop on a shared VM is
    mostly noise). A call's result is dropped before the next, as a loop over a dataset drops it."""
    reps = {}
    for name, fn in sides.items():
        start = time.perf_counter()
        fn()
        reps[name] = max(1, math.ceil(min_seconds / max(time.perf_counter() - start, 1e-9)))
    samples: dict[str, list[float]] = {name: [] for name in sides}
    fulls = dict.fromkeys(sides, 0)
    for _ in range(runs):
        for name, fn in sides.items():
            with FullCollections() as seen:
                start = time.perf_counter()
                for _ in range(reps[name]):
                    fn()
                samples[name].append((time.perf_counter() - start) / reps[name])
            fulls[name] += seen.count
    return {name: statistics.median(times) for name, times in samples.items()}, fulls

"""glibc allocator settings for CPU training.

PyTorch's large CPU tensors are allocated with mmap and returned to the kernel on free, so every
training step pays page faults for the same sizes again (system time above user time). Keeping
freed memory in the heap instead (no mmap, no trimming) removes that churn; `bench/train.py`
measures the gain. The same as MALLOC_MMAP_MAX_=0 MALLOC_TRIM_THRESHOLD_=... in the environment,
but applied at run time through mallopt, so a plain `instructkit train` gets it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import sys

M_TRIM_THRESHOLD = -1
M_MMAP_MAX = -4
log = logging.getLogger("instructkit")


def keep_freed_memory(trim_threshold: int = 1 << 30) -> bool:
    """Apply the settings on Linux/glibc; False (and nothing changed) elsewhere."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    ok = mallopt(M_MMAP_MAX, 0) == 1 and mallopt(M_TRIM_THRESHOLD, trim_threshold) == 1
    if ok:
        log.info("allocator: freed memory stays in the heap (mallopt M_MMAP_MAX=0, M_TRIM_THRESHOLD=%d)",
                 trim_threshold)
    return ok

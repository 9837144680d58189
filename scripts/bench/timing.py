"""Shared timing for the benchmark scripts: the median of repeated calls after warm-up, with CUDA
synchronised around each call so GPU work is counted; and peak-memory runs in a fresh process."""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import time

import torch


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def median_time(fn, repeats: int, warmup: int = 1) -> float:
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        sync()
        t0 = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


# Run before a measuring child's code: `status(field)` reads /proc/self/status (kB); `reset_peak()`
# sets the peak RSS (VmHWM) back to the current RSS and returns that RSS, so
# `(status("VmHWM") - before) / 1024` is the peak growth (MiB) of the work alone; `report(**values)`
# prints the result for run_child.
_CHILD_PRELUDE = r"""
import json, sys
sys.path.insert(0, {bench_dir!r})

def status(field):
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])

def reset_peak():
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")
    return status("VmRSS")

def report(**values):
    print(json.dumps(values))
"""


def run_child(code: str) -> dict:
    """Runs `code` after the prelude above in a fresh interpreter (so earlier allocations of this
    process do not count); returns what it passed to report()."""
    prelude = _CHILD_PRELUDE.format(bench_dir=os.path.dirname(os.path.abspath(__file__)))
    out = subprocess.run([sys.executable, "-c", prelude + code], capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])

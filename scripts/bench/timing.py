"""Shared timing for the benchmark scripts: the header every benchmark prints (machine, ISA
features, dispatch choices), the median of repeated calls after warm-up, with CUDA synchronised
around each call so GPU work is counted; and peak-memory runs in a fresh process."""
from __future__ import annotations

import datetime
import json
import os
import statistics
import subprocess
import sys
import time

import torch

from emulation import AVX2_ONLY  # scripts/bench/emulation.py

# Environment variables that change what code runs; the header lists the ones that are set.
DISPATCH_OVERRIDES = ("STX_CPU_ISA", "STX_COSINE_TOPK_SCREEN", *[k for k in AVX2_ONLY if k != "STX_CPU_ISA"])


def cpu_model() -> str:
    """The model name the kernel reports (/proc/cpuinfo), or the platform's processor string."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    import platform

    return platform.processor() or "unknown"


def print_header(title: str, device: str = "cpu") -> dict:
    """Prints what a benchmark's numbers depend on: date, CPU model, the ISA features found, torch's
    and stx's dispatch choices (stx's from libstx itself, after its one-time int8 GEMM calibration)
    and any override variables. Returns stx's dispatch report."""
    import stx

    report = json.loads(torch.ops.stx._cpu_dispatch(True))
    gemm = report["int8_gemm"]
    speed = (f", int8 GEMM engine {gemm['engine']} at {gemm['speedup_over_float32']:.2f}x the float32 GEMM "
             f"(oneDNN {gemm['onednn_speedup']:.2f}x, AVX2 kernel {gemm['avx2_speedup']:.2f}x; 0 = not a candidate)"
             if gemm["calibrated"] else "")
    overrides = {k: os.environ[k] for k in DISPATCH_OVERRIDES if k in os.environ}
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"== {title} ({now})")
    print(f"CPU: {cpu_model()} ({os.cpu_count()} logical CPUs; cpuinfo: {report['cpu']})")
    print(f"ISA features found: {', '.join(report['features']) or 'none'}; "
          f"used by stx: {', '.join(report['active_features']) or 'none'}")
    print(f"torch {torch.__version__}: ATen CPU kernels {torch.backends.cpu.get_cpu_capability()}, "
          f"{torch.get_num_threads()} threads; stx {stx.__version__}")
    print(f"stx dispatch: row kernels {report['isa']} ({report['isa_source']}){speed}; "
          f"cosine_topk int8 screen: {report['cosine_topk_int8_screen']}")
    if device == "cuda" and torch.cuda.is_available():
        print(f"CUDA device: {torch.cuda.get_device_name()}")
    print(f"load average (1/5/15 min): {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"dispatch overrides set: {', '.join(f'{k}={v}' for k, v in overrides.items()) or 'none'}")
    return report


def sync() -> None:
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def cuda_peak_extra_mib(fn) -> float:
    """Peak CUDA allocator growth during one call (inputs already allocated)."""
    sync()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn()
    sync()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


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


def screen_chosen(report: dict, Q: int, N: int, D: int) -> bool:
    """Whether libstx takes the int8 screen for a float32 cosine_topk of this size: its own report's
    decision and size rule (docs/ops/retrieval.md), or the override variable."""
    forced = os.environ.get("STX_COSINE_TOPK_SCREEN")
    if forced in ("0", "1"):
        return forced == "1"
    least = report["cosine_topk_int8_screen_min"]
    big = Q >= least["queries"] and N >= least["bank"] and D >= least["dim"]
    return report["cosine_topk_int8_screen"].startswith("on") and big


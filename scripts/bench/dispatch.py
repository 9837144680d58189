"""Every CPU dispatch choice of stx against its alternatives on this machine, side by side.

For each op that runs on stx's multi-versioned row kernels (spot_pool and label_pool's forward do
not: they are compiled once, for baseline x86-64), the time at every instruction-set level
the CPU can run (stx.ops levels via torch.ops.stx._set_cpu_isa), and for cosine_topk the int8 screen
forced on and off. "ratio" is a path's time over the time of the path the dispatch chooses here; the
claim checked is that the chosen path is never more than 2x slower than an alternative (ratio >= 0.5).

Usage: .venv/bin/python scripts/bench/dispatch.py [--threads 2] [--repeats 5] [--emulate-avx2]
"""
from __future__ import annotations

import argparse
import os

import emulation  # scripts/bench/emulation.py; before torch, whose libraries read it at load

emulation.apply_from_argv()

import torch  # noqa: E402

import stx  # noqa: E402
from timing import median_time, print_header, screen_chosen  # noqa: E402  (scripts/bench/timing.py)

LEVELS = ["baseline", "avx2", "avx512"]


def workloads(g):
    q128, bank = torch.randn(128, 256, generator=g), torch.randn(10000, 256, generator=g)
    q1k, bank_big = torch.randn(1024, 256, generator=g), torch.randn(50000, 256, generator=g)
    s, i = stx.ops.cosine_topk(q128, bank, 100)
    expr = torch.rand(10000, 300, generator=g)
    labels = torch.randint(0, 20, (10000,), generator=g)
    dense = torch.randn(1, 64, 512, 512, generator=g)
    cells = torch.randint(0, 5000, (1, 512, 512), generator=g)
    count = stx.ops.label_pool(dense, cells, 5000, return_count=True)[1]
    grad = torch.randn(1, 5000, 64, generator=g)
    return {
        "cosine_topk Q=128 N=10000 D=256 k=100": lambda: stx.ops.cosine_topk(q128, bank, 100),
        "cosine_topk Q=1024 N=50000 D=256 k=100": lambda: stx.ops.cosine_topk(q1k, bank_big, 100),
        "cosine_topk float64 Q=128 N=10000": lambda: stx.ops.cosine_topk(q128.double(), bank.double(), 100),
        "filter + soft_labels B=128 k=100 G=300": lambda: stx.ops.soft_labels(
            i, s, stx.ops.majority_filter(i, labels, 10), expr, "mean"),
        "label_pool bwd (gather) [1,64,512,512]": lambda: torch.ops.stx._label_pool_backward(
            grad, cells, count, "sum", 0),
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--emulate-avx2", action="store_true", help="pick AVX2 code everywhere (see emulation.py)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    report = print_header("scripts/bench/dispatch.py")
    levels = LEVELS[: LEVELS.index(report["isa"]) + 1]
    g = torch.Generator().manual_seed(0)
    work = workloads(g)
    print(f"\n[1] row-kernel level (chosen: {report['isa']}); ms per call, ratio = time / chosen level's time")
    print(f"  {'op':<42}" + "".join(f"{lv:>16}" for lv in levels))
    worst = float("inf")
    for name, fn in work.items():
        times = {}
        for lv in levels:
            torch.ops.stx._set_cpu_isa(lv)
            times[lv] = median_time(fn, args.repeats)
        torch.ops.stx._set_cpu_isa("auto")
        chosen = times[report["isa"]]
        worst = min(worst, min(times.values()) / chosen)
        print(f"  {name:<42}" + "".join(f"{times[lv] * 1e3:9.2f} ({times[lv] / chosen:4.2f})" for lv in levels))
    print(f"  fastest alternative / chosen, worst case: {worst:.2f} (the claim holds if >= 0.5)")

    print(f"\n[2] cosine_topk int8 screen (dispatch: {report['cosine_topk_int8_screen']})")
    for n in (50000, 200000):  # below and above the screen's bank-size rule
        q, b = torch.randn(1024, 256, generator=g), torch.randn(n, 256, generator=g)
        times = {}
        for forced in ("0", "1"):
            os.environ["STX_COSINE_TOPK_SCREEN"] = forced
            times[forced] = median_time(lambda: stx.ops.cosine_topk(q, b, 100), args.repeats)
        del os.environ["STX_COSINE_TOPK_SCREEN"]
        chosen = "1" if screen_chosen(report, 1024, n, 256) else "0"
        print(f"  Q=1024 N={n} D=256 k=100: float32 path {times['0'] * 1e3:.1f} ms, int8 screen "
              f"{times['1'] * 1e3:.1f} ms; chosen: {'screen' if chosen == '1' else 'float32'}, alternative / chosen = "
              f"{times['1' if chosen == '0' else '0'] / times[chosen]:.2f}")

if __name__ == "__main__":
    main()

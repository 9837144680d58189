"""Where the int8 screen of cosine_topk starts to pay: the screen forced on vs off over query counts.

The screen adds a per-bank-row cost (normalise, quantise, pack) that only the int8 GEMM savings of
enough queries repay; libstx takes it for Q >= its threshold (docs/ops/retrieval.md). This prints,
for 1 and 2 threads, the time of both paths and their ratio (off / on: > 1 means the screen wins).

Usage: .venv/bin/python scripts/bench/screen_threshold.py [--emulate-avx2] [--n 50000] [--qs 256,384,512,768,1024,2048]
"""
from __future__ import annotations

import argparse
import os

import emulation  # scripts/bench/emulation.py; before torch, whose libraries read it at load

emulation.apply_from_argv()

import torch  # noqa: E402

import stx  # noqa: E402
from timing import median_time, print_header  # noqa: E402  (scripts/bench/timing.py)


def timed(fn, repeats, screen):
    os.environ["STX_COSINE_TOPK_SCREEN"] = "1" if screen else "0"
    try:
        return median_time(fn, repeats)
    finally:
        del os.environ["STX_COSINE_TOPK_SCREEN"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--emulate-avx2", action="store_true", help="pick AVX2 code everywhere (see emulation.py)")
    ap.add_argument("--n", type=int, default=50000)
    ap.add_argument("--d", type=int, default=256)
    ap.add_argument("--k", type=int, default=100)
    ap.add_argument("--qs", default="256,384,512,768,1024,2048")
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    os.environ.pop("STX_COSINE_TOPK_SCREEN", None)
    print_header("scripts/bench/screen_threshold.py")
    print(f"load average at start: {os.getloadavg()[0]:.2f}")
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(args.n, args.d, generator=g)
    queries = torch.randn(max(int(q) for q in args.qs.split(",")), args.d, generator=g)
    print(f"N={args.n} D={args.d} k={args.k} float32")
    print("threads |     Q | screen off ms | screen on ms | off/on")
    for threads in (int(t) for t in args.threads.split(",")):
        torch.set_num_threads(threads)
        for q in (int(x) for x in args.qs.split(",")):
            fn = lambda: stx.ops.cosine_topk(queries[:q], bank, args.k)  # noqa: E731
            off, on = timed(fn, args.repeats, False), timed(fn, args.repeats, True)
            print(f"{threads:7d} | {q:5d} | {off * 1e3:13.1f} | {on * 1e3:12.1f} | {off / on:5.2f}x", flush=True)
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""Benchmark of the fused losses vs their autograd composites, side by side in one run.

pearson_loss and soft_label_loss, forward + backward: median time and peak extra memory
(peak RSS growth in a fresh subprocess, inputs excluded). Prints ratios composite / stx.

Usage: .venv/bin/python scripts/bench/losses.py [--quick] [--threads 2]
"""
from __future__ import annotations

import argparse

import torch
import torch.nn.functional as F

import stx
from timing import median_time, print_header, run_child, sync  # scripts/bench/timing.py


def composite_pearson(pred, target, dim=0, eps=1e-8):
    xc = pred - pred.mean(dim, keepdim=True)
    yc = target - target.mean(dim, keepdim=True)
    r = (xc * yc).sum(dim) / (xc.square().sum(dim).sqrt() * yc.square().sum(dim).sqrt() + eps)
    return 1 - r.mean()


def composite_soft_label(pred, target, soft, conf, weight=0.01, threshold=0.1):
    gate = (conf > threshold).to(pred.dtype)[:, None]
    return F.mse_loss(pred, target) + weight * ((pred - soft).square() * gate).mean()


def make(kind, B, G, seed=0, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    pred = torch.randn(B, G, generator=g).to(device).requires_grad_()
    target = torch.randn(B, G, generator=g).to(device)
    soft = torch.randn(B, G, generator=g).to(device)
    conf = torch.rand(B, generator=g).to(device)
    if kind.startswith("pearson"):
        fn = stx.ops.pearson_loss if kind.endswith("stx") else composite_pearson
        return pred, lambda: fn(pred, target)
    if kind.endswith("stx"):
        return pred, lambda: stx.ops.soft_label_loss(pred, target, soft, conf)
    return pred, lambda: composite_soft_label(pred, target, soft, conf)


def fwd_bwd(pred, loss_fn):
    pred.grad = None
    loss_fn().backward()


def cuda_peak_extra_mib(kind, B, G):
    pred, fn = make(kind, B, G, device="cuda")
    pred.grad = torch.empty_like(pred)
    sync()
    torch.cuda.reset_peak_memory_stats()
    before = torch.cuda.memory_allocated()
    fn().backward()
    sync()
    return (torch.cuda.max_memory_allocated() - before) / 2**20


_CHILD = r"""
import torch
from losses import make, fwd_bwd

torch.set_num_threads({threads})
pred, fn = make({kind!r}, {B}, {G})
small_pred, small_fn = make({kind!r}, 8, 8)
fwd_bwd(small_pred, small_fn)  # load kernels / thread pools first
pred.grad = torch.empty_like(pred)  # the gradient buffer is part of the inputs for both
before = reset_peak()
loss = fn()
loss.backward()
report(extra_mib=(status("VmHWM") - before) / 1024.0)
"""


def peak_extra_mib(kind, B, G, threads):
    return run_child(_CHILD.format(threads=threads, kind=kind, B=B, G=G))["extra_mib"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--device", default="cpu", help="cpu or cuda")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print_header("scripts/bench/losses.py", args.device)
    shapes = [(128, 300), (4096, 1000)] if args.quick else [(128, 300), (4096, 1000), (16384, 2000)]
    for name in ("pearson", "soft_label"):
        for B, G in shapes:
            t = {}
            for impl in ("stx", "composite"):
                pred, fn = make(f"{name}_{impl}", B, G, device=args.device)
                t[impl] = median_time(lambda: fwd_bwd(pred, fn), args.repeats)
            p1, f1 = make(f"{name}_stx", B, G, device=args.device)
            p2, f2 = make(f"{name}_composite", B, G, device=args.device)
            fwd_bwd(p1, f1)
            fwd_bwd(p2, f2)
            assert torch.allclose(p1.grad, p2.grad, atol=1e-6, rtol=1e-4), f"{name}: gradients disagree"
            line = (f"{name + '_loss':16s} [{B:5d} x {G:4d}] fwd+bwd  stx {t['stx'] * 1e3:8.2f} ms  "
                    f"composite {t['composite'] * 1e3:8.2f} ms  ratio {t['composite'] / t['stx']:5.2f}x")
            if B * G >= 4_000_000:
                if args.device == "cuda":
                    m_stx = cuda_peak_extra_mib(f"{name}_stx", B, G)
                    m_comp = cuda_peak_extra_mib(f"{name}_composite", B, G)
                else:
                    m_stx = peak_extra_mib(f"{name}_stx", B, G, args.threads)
                    m_comp = peak_extra_mib(f"{name}_composite", B, G, args.threads)
                line += f"  | peak extra memory stx {m_stx:7.1f} MiB, composite {m_comp:7.1f} MiB"
            print(line)


if __name__ == "__main__":
    main()

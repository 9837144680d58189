"""Benchmark of the spot pooling ops against pure-PyTorch composites, measured side by side.

Cases (the issue's reference): B=1, G=256, 1024x1024 float32 map;
  visium:  hexagonal grid of spots, radius 27.5 px, pitch 100 px;
  multi:   the same grid read at radii 4, 16 and 32 px in one call ([N, 3] radii);
  cells:   label_pool over a mask with ~20k cells.
For each case: forward+backward time of stx and of the best pure-PyTorch composite we could
write (all are timed; none builds an O(N*H*W) temporary; the geometry/index build is done once,
outside the timing, as stx rebuilds it inside every call):
  sparse:  CSR matrix [N, H*W] of the masks, torch.sparse.mm (backward: transposed product);
  gather:  dense[:, idx] over the covered pixels + index_add_ into the spots;
  cumsum:  per-row prefix sums, two gathers per row span, index_add_ of the row sums.
and the effective bandwidth of stx (bytes the op must read and write) against a large copy_.

  .venv/bin/python scripts/bench/spot_pool.py [--quick] [--device cpu|cuda] [--huge-pages] [--emulate-avx2]

Floor of a case: a fresh dense gradient of the map (torch.zeros) plus one read of the map
(dense.sum()), measured in the same run: what any fwd+bwd that returns a dense gradient must pay.
Targets (docs/benchmarks.md): spot_pool fwd+bwd <= 1.3x its floor, label_pool <= 1.5x.
--emulate-avx2 makes stx and torch pick their AVX2 code (scripts/bench/emulation.py).

--huge-pages sets THP_MEM_ALLOC_ENABLE=1 (torch then backs large CPU tensors with transparent huge
pages): without it, every fresh 1 GiB output (the dense gradient) pays ~260k page faults, for stx
and the composites alike, which dominates the backward on small machines.
"""
from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time

if "--huge-pages" in sys.argv:  # must be set before torch allocates anything
    os.environ["THP_MEM_ALLOC_ENABLE"] = "1"

import emulation  # scripts/bench/emulation.py; before torch, whose libraries read it at load

emulation.apply_from_argv()

import numpy as np  # noqa: E402
import torch  # noqa: E402

import stx  # noqa: E402
from timing import print_header  # noqa: E402  (scripts/bench/timing.py)


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def bench(fn, device, reps, warmup=1):
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(reps):
        sync(device)
        t0 = time.perf_counter()
        fn()
        sync(device)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def copy_bandwidth(device, nbytes, reps):
    src = torch.empty(nbytes // 4, dtype=torch.float32, device=device).uniform_()
    dst = torch.empty_like(src)
    t = bench(lambda: dst.copy_(src), device, reps)
    return 2 * nbytes / t  # read + write


def hex_grid(H, W, pitch):
    pts = []
    dy = pitch * math.sqrt(3) / 2
    row = 0
    y = pitch / 2
    while y < H:
        x = pitch / 2 + (pitch / 2 if row % 2 else 0)
        while x < W:
            pts.append((y, x))
            x += pitch
        y += dy
        row += 1
    return torch.tensor(pts, dtype=torch.float64)


def disk_pixels(centers, radii, H, W):
    """Flat pixel index and spot id of every covered pixel (pixel (i, j) centred at (i, j))."""
    idx, seg = [], []
    for n, ((cy, cx), r) in enumerate(zip(centers.tolist(), radii.tolist())):
        i0, i1 = max(0, math.ceil(cy - r)), min(H - 1, math.floor(cy + r))
        j0, j1 = max(0, math.ceil(cx - r)), min(W - 1, math.floor(cx + r))
        ii, jj = np.meshgrid(np.arange(i0, i1 + 1), np.arange(j0, j1 + 1), indexing="ij")
        inside = np.square(ii - cy) + np.square(jj - cx) <= r * r
        flat = (ii * W + jj)[inside]
        idx.append(flat)
        seg.append(np.full(flat.shape, n))
    return torch.from_numpy(np.concatenate(idx)), torch.from_numpy(np.concatenate(seg))


def row_spans(idx, seg, W):
    """Row spans (row, first col, last col, spot) of the covered pixels (each disk row is one span)."""
    rows, cols = (idx // W).numpy(), (idx % W).numpy()
    key = seg.numpy() * (1 << 32) + rows
    order = np.lexsort((cols, key))
    key, cols, rows, s = key[order], cols[order], rows[order], seg.numpy()[order]
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    ends = np.r_[starts[1:], len(key)] - 1
    return (torch.from_numpy(rows[starts]), torch.from_numpy(cols[starts]), torch.from_numpy(cols[ends]),
            torch.from_numpy(s[starts]))


def composites(G, H, W, N, idx, seg, device):
    """Pure-PyTorch forward functions dense[1, G, H, W] -> [N, G] (autograd does the backward)."""
    nnz = idx.numel()
    A = torch.sparse_coo_tensor(torch.stack([seg, idx]), torch.ones(nnz), (N, H * W)).coalesce().to_sparse_csr()
    A = A.to(device)
    idx_d, seg_d = idx.to(device), seg.to(device)
    r, c0, c1, s = (t.to(device) for t in row_spans(idx, seg, W))

    def sparse(d):
        return torch.sparse.mm(A, d.view(G, H * W).t())

    def gather(d):
        vals = d.view(G, H * W)[:, idx_d]
        return torch.zeros(G, N, device=device, dtype=d.dtype).index_add_(1, seg_d, vals).t()

    def cumsum(d):
        c = torch.nn.functional.pad(d.view(G, H, W).cumsum(2), (1, 0))  # c[..., j] = sum of cols < j
        flat = c.view(G, H * (W + 1))
        sums = flat[:, r * (W + 1) + c1 + 1] - flat[:, r * (W + 1) + c0]
        return torch.zeros(G, N, device=device, dtype=d.dtype).index_add_(1, s, sums).t()

    return {"sparse": sparse, "gather": gather, "cumsum": cumsum}


def fwd_bwd(fn, dense, grad):
    def run():
        dense.grad = None
        out = fn(dense)
        out.backward(grad)
    return run


def spot_case(name, dense, centers, radii, device, reps, copy_bw, results):
    B, G, H, W = dense.shape
    multi = radii.dim() == 2
    out_shape = (*radii.shape, G)
    grad = torch.randn(out_shape, device=device)
    c, rr = centers.to(device), radii.to(device)
    stx_run = fwd_bwd(lambda d: stx.ops.spot_pool(d, c, rr), dense, grad)
    t_stx = bench(stx_run, device, reps)
    t_fwd = bench(lambda: stx.ops.spot_pool(dense.detach(), c, rr), device, reps)
    t_bwd = bench(lambda: stx.ops.spot_splat(grad, c, rr, B, H, W), device, reps)

    # Composites see the multi-scale case as N*S independent spots.
    flat_c = centers.repeat_interleave(radii.shape[1], 0) if multi else centers
    flat_r = radii.reshape(-1)
    idx, seg = disk_pixels(flat_c, flat_r, H, W)
    flat_grad = grad.reshape(-1, G)
    comp = {}
    for cname, fn in composites(G, H, W, flat_r.numel(), idx, seg, device).items():
        # Correctness first: a composite must agree with stx before its time counts.
        ref = fn(dense.detach()).reshape(out_shape)
        torch.testing.assert_close(ref, stx.ops.spot_pool(dense.detach(), c, rr), rtol=1e-4, atol=1e-2)
        comp[cname] = bench(fwd_bwd(fn, dense, flat_grad), device, max(1, reps // 2), warmup=0)
    best = min(comp, key=comp.get)

    elt = dense.element_size()
    # stx reads each covered pixel once per spot (nested scales: once for all scales).
    covered = disk_pixels(centers, radii.amax(1) if multi else radii, H, W)[0].numel()
    bytes_fwd = covered * G * elt + grad.numel() * elt
    bytes_bwd = B * G * H * W * elt + grad.numel() * elt  # the dense gradient must be written
    results.append({
        "case": name, "spots": centers.shape[0], "t_stx": t_stx, "t_fwd": t_fwd, "t_bwd": t_bwd,
        "composites": comp, "best": best, "speedup": comp[best] / t_stx,
        "bw_fwd": bytes_fwd / t_fwd / copy_bw, "bw_bwd": bytes_bwd / t_bwd / copy_bw,
        "bw_total": (bytes_fwd + bytes_bwd) / t_stx / copy_bw,
    })


def cell_mask(H, W, cell, gen):
    """~(H/cell)*(W/cell) square-ish cells with jittered borders and ~15% background."""
    gy, gx = H // cell, W // cell
    ii = torch.arange(H)[:, None] // cell
    jj = torch.arange(W)[None, :] // cell
    labels = (ii.clamp(max=gy - 1) * gx + jj.clamp(max=gx - 1)) + 1
    drop = torch.rand(gy * gx + 1, generator=gen) < 0.15
    labels[drop[labels]] = 0
    return labels[None], gy * gx + 1


def label_case(dense, device, reps, copy_bw, results, cell):
    B, G, H, W = dense.shape
    labels, K = cell_mask(H, W, cell, torch.Generator().manual_seed(0))
    labels = labels.to(device)
    grad = torch.randn(B, K, G, device=device)
    t_stx = bench(fwd_bwd(lambda d: stx.ops.label_pool(d, labels, K), dense, grad), device, reps)
    t_fwd = bench(lambda: stx.ops.label_pool(dense.detach(), labels, K), device, reps)
    flat = labels.view(-1)
    keep = (flat != 0).nonzero().squeeze(1)
    lab_keep = flat[keep]

    def index_add(d):
        return torch.zeros(G, K, device=device, dtype=d.dtype).index_add_(1, lab_keep, d.view(G, H * W)[:, keep]).t()[None]

    def scatter(d):
        x = d.view(G, H * W)
        return torch.zeros(G, K, device=device, dtype=d.dtype).scatter_add(1, flat.expand(G, -1), x).t()[None] * (
            torch.arange(K, device=device) != 0)[None, :, None]

    comp = {}
    for cname, fn in {"index_add": index_add, "scatter_add": scatter}.items():
        torch.testing.assert_close(fn(dense.detach()), stx.ops.label_pool(dense.detach(), labels, K), rtol=1e-4, atol=1e-2)
        comp[cname] = bench(fwd_bwd(fn, dense, grad), device, max(1, reps // 2), warmup=0)
    best = min(comp, key=comp.get)
    elt = dense.element_size()
    bytes_fwd = B * G * H * W * elt + labels.numel() * labels.element_size() + grad.numel() * elt
    bytes_bwd = B * G * H * W * elt + labels.numel() * labels.element_size() + grad.numel() * elt
    t_bwd = t_stx - t_fwd
    results.append({
        "case": f"cells ({K - 1} labels)", "spots": K - 1, "t_stx": t_stx, "t_fwd": t_fwd, "t_bwd": t_bwd,
        "composites": comp, "best": best, "speedup": comp[best] / t_stx,
        "bw_fwd": bytes_fwd / t_fwd / copy_bw, "bw_bwd": bytes_bwd / max(t_bwd, 1e-9) / copy_bw,
        "bw_total": (bytes_fwd + bytes_bwd) / t_stx / copy_bw,
    })


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="small sizes (smoke test)")
    parser.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    parser.add_argument("--reps", type=int, default=None)
    parser.add_argument("--huge-pages", action="store_true", help="THP_MEM_ALLOC_ENABLE=1 (see above)")
    parser.add_argument("--emulate-avx2", action="store_true", help="pick AVX2 code (see emulation.py)")
    parser.add_argument("--only", choices=["visium", "multi", "cells"], help="run one case")
    args = parser.parse_args()
    print_header("scripts/bench/spot_pool.py", args.device)
    device = args.device
    G, H, W = (16, 256, 256) if args.quick else (256, 1024, 1024)
    pitch, radius = (25.0, 6.875) if args.quick else (100.0, 27.5)
    scales = (1.0, 4.0, 8.0) if args.quick else (4.0, 16.0, 32.0)
    reps = args.reps or (3 if args.quick else 5)
    cell = 7  # 1024^2 / 7^2 ~ 21k cells

    torch.manual_seed(0)
    copy_bw = copy_bandwidth(device, (64 if args.quick else 512) << 20, reps)
    dense = torch.randn(1, G, H, W, device=device).requires_grad_(True)
    centers = hex_grid(H, W, pitch)
    N = centers.shape[0]
    results = []
    if args.only in (None, "visium"):
        spot_case("visium", dense, centers, torch.full((N,), radius, dtype=torch.float64), device, reps, copy_bw,
                  results)
    if args.only in (None, "multi"):
        multi_r = torch.tensor(scales, dtype=torch.float64).expand(N, -1).contiguous()
        spot_case("multi-scale", dense, centers, multi_r, device, reps, copy_bw, results)
    if args.only in (None, "cells"):
        label_case(dense, device, reps, copy_bw, results, cell)

    # The floor of any fwd+bwd that returns a fresh dense gradient: allocating and zeroing it, plus
    # one read of the map.
    t_zeros = bench(lambda: torch.zeros(1, G, H, W, device=device), device, reps)
    t_read = bench(lambda: dense.detach().sum(), device, reps)
    t_floor = t_zeros + t_read
    print(f"device={device} threads={torch.get_num_threads()} huge_pages={args.huge_pages} map=[1, {G}, {H}, {W}] float32 "
          f"copy_ bandwidth={copy_bw / 1e9:.2f} GB/s (read+write); a fresh torch.zeros of the map: {t_zeros * 1e3:.1f} ms, "
          f"one read of it (sum): {t_read * 1e3:.1f} ms; floor = {t_floor * 1e3:.1f} ms")
    print(f"{'case':<22}{'spots':>7}{'stx f+b ms':>12}{'fwd ms':>9}{'bwd ms':>9}{'/floor':>8}  {'composites f+b ms':<40}"
          f"{'speedup':>8}{'bw fwd':>8}{'bw bwd':>8}{'bw f+b':>8}")
    for r in results:
        comp = ", ".join(f"{k} {v * 1e3:.0f}" for k, v in r["composites"].items())
        print(f"{r['case']:<22}{r['spots']:>7}{r['t_stx'] * 1e3:>12.1f}{r['t_fwd'] * 1e3:>9.1f}{r['t_bwd'] * 1e3:>9.1f}"
              f"{r['t_stx'] / t_floor:>7.2f}x  {comp:<40}{r['speedup']:>7.1f}x{r['bw_fwd']:>8.2f}{r['bw_bwd']:>8.2f}"
              f"{r['bw_total']:>8.2f}")
    print("/floor = stx fwd+bwd / (fresh zeros + one read of the map); targets: spot_pool <= 1.3x, label_pool <= 1.5x")
    floors = ", ".join(f"{r['case']} {r['t_bwd'] / t_zeros:.2f}" for r in results)
    print("speedup = best composite (fwd+bwd) / stx (fwd+bwd); bw = effective bandwidth / copy_ bandwidth")
    print(f"stx bwd time / fresh torch.zeros of the map (the floor of a dense gradient): {floors}")
    # No implementation that returns a fresh dense gradient can beat the best composite by more than
    # this, even with a forward that costs nothing.
    ceilings = ", ".join(f"{r['case']} {r['composites'][r['best']] / t_zeros:.1f}x" for r in results)
    print(f"ceiling on the f+b speedup of any op returning a fresh dense gradient (best composite / zeros): {ceilings}")


if __name__ == "__main__":
    main()

"""GPU benchmarks of the CUDA kernels against the targets of the CUDA check, in one run (a markdown
table with each measured ratio, its target and whether it is met):

  spot_pool    the Visium case of spot_pool.py (1 x 256 x 1024 x 1024 float32 map, hexagonal grid,
               r = 27.5 px, pitch 100 px): effective bandwidth of the forward and of forward+backward
               as a fraction of the device-to-device copy bandwidth (targets >= 0.5 and >= 0.4);
  cosine_topk  Q = 4096, N = 1 000 000, D = 256, k = 100, float32, against torch mm + topk (the whole
               [Q, N] score matrix, and in query chunks of 512): time ratio (target >= 2x against the
               faster of the two) and peak extra GPU memory (target: flat, i.e. under 2 % of the
               [Q, N] score matrix);
  losses       soft_label_loss, pearson_loss, contrastive_loss forward+backward against autograd
               composites (time ratio composite / stx);
  scr2net      one SCR2Net training step (the full objective, backward, SGD) on the GPU against the CPU.

  python scripts/bench/gpu.py [--quick] [--device cuda|cpu] [--out result.md]

--quick shrinks every case (a smoke run); --device cpu runs the same code on the CPU (the dry run of
scripts/device_check.sh; its ratios are no GPU measurement). Run from the repository root with stx
importable (installed, or STX_BUILD_DIR + PYTHONPATH=torch_ext).
"""
from __future__ import annotations

import argparse
import math
import os
import sys
import time

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import stx  # noqa: E402
from losses import composite_pearson, composite_soft_label  # noqa: E402  (scripts/bench/losses.py)
from retrieval import composite_topk  # noqa: E402  (scripts/bench/retrieval.py)
from spot_pool import copy_bandwidth, disk_pixels, hex_grid  # noqa: E402  (scripts/bench/spot_pool.py)
from timing import cuda_peak_extra_mib, median_time  # noqa: E402  (scripts/bench/timing.py)


class Table:
    def __init__(self):
        self.rows = []

    def add(self, case, value, unit, target=None, met=None, note=""):
        self.rows.append((case, value, unit, target, met, note))
        status = "" if met is None else ("met" if met else "MISSED")
        print(f"{case:<52} {value:>10.3f} {unit:<6} {target or '':<10} {status:<6} {note}", flush=True)

    def markdown(self, header):
        lines = [header, "", "| case | value | target | met | note |", "|---|---|---|---|---|"]
        for case, value, unit, target, met, note in self.rows:
            status = "" if met is None else ("yes" if met else "**no**")
            lines.append(f"| {case} | {value:.3f} {unit} | {target or ''} | {status} | {note} |")
        return "\n".join(lines) + "\n"


def peak_extra_mib(fn, device):
    """Peak CUDA allocator growth during one call (inputs already allocated); NaN on the CPU (not measured)."""
    return cuda_peak_extra_mib(fn) if device == "cuda" else float("nan")


def bench_spot_pool(table, device, quick, reps):
    G, H, W, pitch, radius = (16, 256, 256, 25.0, 6.875) if quick else (256, 1024, 1024, 100.0, 27.5)
    copy_bw = copy_bandwidth(device, (64 if quick else 1024) << 20, reps)
    dense = torch.randn(1, G, H, W, device=device)
    centers = hex_grid(H, W, pitch)
    radii = torch.full((centers.shape[0],), radius, dtype=torch.float64)
    c, r = centers.to(device), radii.to(device)
    grad = torch.randn(centers.shape[0], G, device=device)
    leaf = dense.clone().requires_grad_(True)

    def fwd_bwd():
        leaf.grad = None
        stx.ops.spot_pool(leaf, c, r).backward(grad)

    t_fwd = median_time(lambda: stx.ops.spot_pool(dense, c, r), reps)
    t_fb = median_time(fwd_bwd, reps)
    elt = dense.element_size()
    covered = disk_pixels(centers, radii, H, W)[0].numel()
    bytes_fwd = covered * G * elt + grad.numel() * elt  # read every covered pixel once, write [N, G]
    bytes_bwd = dense.numel() * elt + grad.numel() * elt  # read [N, G], write the dense gradient
    table.add("spot_pool copy_ bandwidth (read+write)", copy_bw / 1e9, "GB/s")
    table.add(f"spot_pool Visium fwd ({centers.shape[0]} spots, G={G}, {H}x{W})", bytes_fwd / t_fwd / copy_bw,
              "x copy", ">= 0.5", bytes_fwd / t_fwd / copy_bw >= 0.5, f"{t_fwd * 1e3:.2f} ms")
    table.add("spot_pool Visium fwd+bwd", (bytes_fwd + bytes_bwd) / t_fb / copy_bw, "x copy", ">= 0.4",
              (bytes_fwd + bytes_bwd) / t_fb / copy_bw >= 0.4, f"{t_fb * 1e3:.2f} ms")


def bench_cosine_topk(table, device, quick, reps):
    Q, N, D, k = (256, 20_000, 64, 10) if quick else (4096, 1_000_000, 256, 100)
    gen = torch.Generator(device=device).manual_seed(0)
    query = torch.randn(Q, D, device=device, generator=gen)
    bank = torch.randn(N, D, device=device, generator=gen)
    run_stx = lambda: stx.ops.cosine_topk(query, bank, k)  # noqa: E731
    run_full = lambda: composite_topk(query, bank, k, chunk=Q)  # noqa: E731
    run_chunked = lambda: composite_topk(query, bank, k, chunk=512)  # noqa: E731
    s_stx, i_stx = run_stx()
    s_ref, i_ref = run_chunked()
    torch.testing.assert_close(s_stx, s_ref, rtol=1e-4, atol=1e-4)  # correct before timed
    t_stx, t_full, t_chunked = (median_time(fn, reps) for fn in (run_stx, run_full, run_chunked))
    m_stx, m_full, m_chunked = (peak_extra_mib(fn, device) for fn in (run_stx, run_full, run_chunked))
    best = min(t_full, t_chunked)
    table.add(f"cosine_topk Q={Q} N={N} D={D} k={k}: mm+topk / stx", best / t_stx, "x", ">= 2", best / t_stx >= 2,
              f"stx {t_stx * 1e3:.1f} ms, mm+topk {t_full * 1e3:.1f} ms, chunked(512) {t_chunked * 1e3:.1f} ms")
    scores_mib = Q * N * 4 / 2**20
    flat = m_stx < 0.02 * scores_mib if device == "cuda" else None  # O(Q k + tile), not O(Q N)
    table.add("cosine_topk peak extra memory, stx", m_stx, "MiB", "< 2% of [Q, N]", flat,
              f"mm+topk {m_full:.0f} MiB, chunked(512) {m_chunked:.0f} MiB; the [Q, N] scores are {scores_mib:.0f} MiB")


def composite_contrastive(a, b, temperature=0.5):
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / temperature
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def bench_losses(table, device, quick, reps):
    B, G = (512, 300) if quick else (16384, 2000)
    gen = torch.Generator(device=device).manual_seed(1)
    pred, target, soft = (torch.randn(B, G, device=device, generator=gen) for _ in range(3))
    conf = torch.rand(B, device=device, generator=gen)
    Bc, Dc = (256, 128) if quick else (4096, 256)
    a, b = torch.randn(Bc, Dc, device=device, generator=gen), torch.randn(Bc, Dc, device=device, generator=gen)
    cases = {
        "soft_label_loss": ((pred,), lambda p: stx.ops.soft_label_loss(p, target, soft, conf),
                            lambda p: composite_soft_label(p, target, soft, conf)),
        "pearson_loss": ((pred,), lambda p: stx.ops.pearson_loss(p, target), lambda p: composite_pearson(p, target)),
        "contrastive_loss": ((a, b), lambda x, y: stx.ops.contrastive_loss(x, y), composite_contrastive),
    }
    for name, (inputs, fused, composite) in cases.items():
        leaves = [x.clone().requires_grad_(True) for x in inputs]

        def fwd_bwd(fn):
            for leaf in leaves:
                leaf.grad = None
            fn(*leaves).backward()

        torch.testing.assert_close(fused(*inputs), composite(*inputs), rtol=1e-4, atol=1e-5)
        t_stx, t_comp = median_time(lambda: fwd_bwd(fused), reps), median_time(lambda: fwd_bwd(composite), reps)
        table.add(f"{name} fwd+bwd [{inputs[0].shape[0]} x {inputs[0].shape[1]}]: composite / stx", t_comp / t_stx, "x",
                  note=f"stx {t_stx * 1e3:.3f} ms, composite {t_comp * 1e3:.3f} ms")


def scr2net_step_time(device, quick, reps):
    from stx.modules import SCR2Net

    B, G, S, N = (4, 50, 64, 200) if quick else (64, 250, 224, 2000)
    torch.manual_seed(0)
    net = SCR2Net(num_genes=G)
    net.to(torch.device(device))  # the C++ module's `to`: in place
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(2)
    images = torch.rand(B, 3, S, S, generator=gen).to(device)
    targets = torch.rand(B, G, generator=gen).log1p().to(device)
    bank_values = (torch.rand(N, G, generator=gen) * 5).log1p().to(device)
    bank_labels = torch.randint(0, 8, (N,), generator=gen).to(device)

    def step():
        opt.zero_grad()
        loss, _ = net.training_loss(images, targets, bank_values, bank_labels)
        loss.backward()
        opt.step()

    return median_time(step, reps), B, S


def bench_scr2net(table, device, quick, reps):
    t_dev, B, S = scr2net_step_time(device, quick, reps)
    t_cpu, _, _ = scr2net_step_time("cpu", quick, max(1, reps // 2))
    table.add(f"SCR2Net training step (B={B}, {S}x{S}): CPU / {device}", t_cpu / t_dev, "x",
              note=f"{device} {t_dev * 1e3:.1f} ms, CPU ({torch.get_num_threads()} threads) {t_cpu * 1e3:.1f} ms")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true", help="small sizes (smoke run)")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    ap.add_argument("--reps", type=int, default=None)
    ap.add_argument("--out", default=None, help="also write the markdown table here")
    ap.add_argument("--only", default="spot_pool,cosine_topk,losses,scr2net", help="comma-separated cases")
    args = ap.parse_args()
    device = args.device
    if device == "cuda" and not (torch.cuda.is_available() and stx.has_cuda()):
        sys.exit("gpu.py: --device cuda needs a GPU and a libstx built with its CUDA kernels")
    reps = args.reps or (2 if args.quick else 5)
    name = torch.cuda.get_device_name() if device == "cuda" else "CPU"
    header = (f"GPU benchmarks on {name} ({device}), torch {torch.__version__}, stx {stx.__version__}, "
              f"{time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}{' (quick sizes)' if args.quick else ''}")
    print(header, flush=True)
    table = Table()
    benches = {"spot_pool": bench_spot_pool, "cosine_topk": bench_cosine_topk, "losses": bench_losses,
               "scr2net": bench_scr2net}
    for case in args.only.split(","):
        try:
            benches[case](table, device, args.quick, reps)
        except Exception as error:  # one failing case must not hide the others' numbers
            table.add(f"{case}: FAILED", math.nan, "", note=f"{type(error).__name__}: {error}"[:300])
    text = table.markdown(header)
    if args.out:
        with open(args.out, "w") as f:
            f.write(text)
    failed = any(math.isnan(row[1]) and "FAILED" in row[0] for row in table.rows)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

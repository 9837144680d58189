"""Benchmark of the retrieval operators, measured side by side in one run (prints ratios).

1. cosine_topk vs faiss IndexFlatIP (on pre-normalised vectors) and vs the chunked mm + topk
   composite; reference case Q=4096, N=200000, D=256, k=100, float32.
2. Peak extra memory (peak RSS (VmHWM) growth in a fresh subprocess, inputs excluded) of cosine_topk and
   of the composite, including N = 1M.
3. filtered_topk + soft_labels for a batch of 128 vs the SCR2Net per-sample Python loop, over bank sizes.

Usage: .venv/bin/python scripts/bench/retrieval.py [--quick] [--threads 2] [--emulate-avx2]
Run from the repository root with stx importable (installed, or STX_BUILD_DIR + PYTHONPATH=torch_ext).
--emulate-avx2 makes stx, torch, oneDNN, MKL and faiss pick their AVX2 code (scripts/bench/emulation.py).
"""
from __future__ import annotations

import argparse
import os
from collections import Counter

import emulation  # scripts/bench/emulation.py; before torch, whose libraries read it at load

emulation.apply_from_argv()

import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402

import stx  # noqa: E402
from timing import cuda_peak_extra_mib, median_time, print_header, run_child, screen_chosen  # noqa: E402  (scripts/bench/timing.py)


def composite_topk(query, bank, k, chunk=512):
    """What one writes without stx: normalise, then per query chunk a full [chunk, N] mm + topk."""
    qn, bn = F.normalize(query, dim=1), F.normalize(bank, dim=1)
    outs = [torch.topk(qn[i:i + chunk] @ bn.T, k, dim=1) for i in range(0, qn.shape[0], chunk)]
    return torch.cat([o.values for o in outs]), torch.cat([o.indices for o in outs])


_MEMORY_CHILD = r"""
import torch
import stx
from retrieval import composite_topk

torch.set_num_threads({threads})
g = torch.Generator().manual_seed(0)
q = torch.randn({Q}, {D}, generator=g)
b = torch.randn({N}, {D}, generator=g)
stx.ops.cosine_topk(q[:8], b[:1000], {k})  # load kernels / thread pools before the baseline
composite_topk(q[:8], b[:1000], {k})
before = reset_peak()
if {which!r} == "stx":
    stx.ops.cosine_topk(q, b, {k})
else:
    composite_topk(q, b, {k})
report(extra_mib=(status("VmHWM") - before) / 1024.0)
"""


def peak_extra_mib(which, Q, N, D, k, threads):
    """Peak RSS growth of a fresh process during one call (inputs allocated before the baseline)."""
    return run_child(_MEMORY_CHILD.format(threads=threads, Q=Q, N=N, D=D, k=k, which=which))["extra_mib"]


def reference_soft_labels_loop(query, bank_emb, labels, expr, k, num_types):
    """SCR2Net's forward_retrieval (hrlblab/SCR2ST model.py), minus the projection heads: full
    similarity + topk, then one Python iteration per sample with its host syncs (.cpu().tolist(),
    .item()), Counter filter, fancy-indexed mean, then stack."""
    sim = F.normalize(query, dim=1) @ F.normalize(bank_emb, dim=1).T
    vals, idxs = sim.topk(k, dim=1)
    return reference_filter_loop(vals, idxs, labels, expr, num_types)


def reference_filter_loop(vals, idxs, labels, expr, num_types):
    """The reference's per-sample part: majority filter, soft label and confidence per sample."""
    retrieves, confs = [], []
    for i in range(idxs.shape[0]):
        sel_idxs = idxs[i].cpu().tolist()
        sel_types = [labels[j] for j in sel_idxs]
        top_types = {t for t, _ in Counter(sel_types).most_common(num_types)}
        filt = [j for j in sel_idxs if labels[j] in top_types] or sel_idxs
        retrieves.append(expr[filt].mean(dim=0))
        confs.append(vals[i].mean().item())
    return torch.stack(retrieves, dim=0), torch.tensor(confs, device=expr.device, dtype=vals.dtype)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="small shapes (smoke run)")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--sections", default="1,2,3", help="which parts to run, e.g. 1,3")
    ap.add_argument("--device", default="cpu", help="cpu or cuda (CUDA: ratios against torch composites)")
    ap.add_argument("--emulate-avx2", action="store_true", help="pick AVX2 code everywhere (see emulation.py)")
    ap.add_argument("--time-screen", action="store_true",
                    help="also time the int8 screen where the dispatch rejects it (slow without VNNI)")
    args = ap.parse_args()
    dev = torch.device(args.device)
    torch.set_num_threads(args.threads)
    Q, N, D, k = (512, 20000, 256, 100) if args.quick else (4096, 200000, 256, 100)
    g = torch.Generator().manual_seed(0)
    query, bank = torch.randn(Q, D, generator=g).to(dev), torch.randn(N, D, generator=g).to(dev)
    args.report = print_header("scripts/bench/retrieval.py", args.device)

    sections = {int(x) for x in args.sections.split(",")}
    if 1 in sections:
        time_cosine_topk(query, bank, k, args, dev)
    if 2 in sections:
        memory_cosine_topk(query, k, args, dev, Q, N, D)
    if 3 in sections:
        time_soft_labels(args, dev, D, g)


def time_path(query, bank, k, repeats, screen):
    """Times cosine_topk with the int8 screen forced on or off; returns (seconds, indices)."""
    old = os.environ.get("STX_COSINE_TOPK_SCREEN")
    os.environ["STX_COSINE_TOPK_SCREEN"] = "1" if screen else "0"
    try:
        return median_time(lambda: stx.ops.cosine_topk(query, bank, k), repeats), stx.ops.cosine_topk(query, bank, k)[1]
    finally:
        if old is None:
            del os.environ["STX_COSINE_TOPK_SCREEN"]
        else:
            os.environ["STX_COSINE_TOPK_SCREEN"] = old


def time_cosine_topk(query, bank, k, args, dev):
    (Q, D), N = query.shape, bank.shape[0]
    screened = dev.type == "cpu" and screen_chosen(args.report, Q, N, D)
    print(f"\n[1] cosine_topk Q={Q} N={N} D={D} k={k} float32; dispatch for this call: "
          + ("int8 screen + float32 rescoring" if screened else "float32 GEMM path" if dev.type == "cpu" else dev.type))
    t_stx = median_time(lambda: stx.ops.cosine_topk(query, bank, k), args.repeats)
    t_comp = median_time(lambda: composite_topk(query, bank, k), args.repeats)
    alt = None
    if dev.type == "cpu" and (screened or args.time_screen):  # the same op on its other path
        alt = time_path(query, bank, k, args.repeats, screen=not screened)
    s_stx, i_stx = stx.ops.cosine_topk(query, bank, k)
    s_comp, _ = composite_topk(query, bank, k)
    print(f"  stx cosine_topk          {t_stx * 1e3:9.1f} ms")
    print(f"  mm+topk composite        {t_comp * 1e3:9.1f} ms   ratio composite/stx = {t_comp / t_stx:.2f}x")
    if alt is not None:
        t_alt, i_alt = alt
        name = "float32 GEMM path" if screened else "int8 screen path"
        same = (i_alt == i_stx).float().mean().item()
        print(f"  stx, {name:<20}{t_alt * 1e3:9.1f} ms   ratio = {t_alt / t_stx:.2f}x "
              f"(STX_COSINE_TOPK_SCREEN={0 if screened else 1}; same indices as the default: {same:.4%})")
    elif dev.type == "cpu":
        print("  stx, int8 screen path    not timed (the dispatch rejects it here; --time-screen times it)")
    assert torch.allclose(s_stx, s_comp, atol=1e-5), "stx and the composite disagree"
    try:
        if dev.type != "cpu":
            raise ImportError("faiss-cpu is compared on the CPU only")
        import faiss

        faiss.omp_set_num_threads(args.threads)
        qn, bn = F.normalize(query, dim=1).numpy(), F.normalize(bank, dim=1).numpy()
        index = faiss.IndexFlatIP(D)
        index.add(bn)
        t_faiss = median_time(lambda: index.search(qn, k), args.repeats)
        print(f"  faiss IndexFlatIP        {t_faiss * 1e3:9.1f} ms   ratio faiss/stx = {t_faiss / t_stx:.2f}x "
              "(faiss gets pre-normalised vectors)")
    except ImportError as e:
        print(f"  faiss: skipped ({e})")


def memory_cosine_topk(query, k, args, dev, Q, N, D):
    print("\n[2] peak extra memory (inputs excluded)")
    sizes = [N] if args.quick else [N, 1_000_000]
    if dev.type == "cuda":
        for n in sizes:
            big = torch.randn(n, D, device=dev)
            m_stx = cuda_peak_extra_mib(lambda: stx.ops.cosine_topk(query, big, k))
            m_comp = cuda_peak_extra_mib(lambda: composite_topk(query, big, k))
            print(f"  N={n:8d}: stx cosine_topk {m_stx:8.1f} MiB   mm+topk composite {m_comp:8.1f} MiB (CUDA allocator)")
            del big
        sizes = []
    for n in sizes:
        m_stx = peak_extra_mib("stx", Q, n, D, k, args.threads)
        print(f"  N={n:8d}: stx cosine_topk {m_stx:8.1f} MiB", end="")
        if n <= 200_000:
            m_comp = peak_extra_mib("composite", Q, n, D, k, args.threads)
            print(f"   mm+topk composite (512-query chunks) {m_comp:8.1f} MiB", end="")
        print()


def time_soft_labels(args, dev, D, g):
    # Bank = the spots sequenced so far. SCR2-ST's HER2 folds (~10k training spots) give ~1.5k at a 15 %
    # budget and ~3k at 30 %; 10k is the whole HER2 training set or a 35 % budget on the BC folds.
    B, G, kk, types = 128, 300, 100, 10
    # Millisecond calls on a shared VM: many samples per median.
    fast_reps, loop_reps = 40 * args.repeats, 10 * args.repeats
    banks = (1500, 5000) if args.quick else (1500, 3000, 10000)
    print(f"\n[3] filtered_topk + soft_labels, batch {B}, D={D}, G={G}, k={kk}, num_types={types}")
    print("  bank | stx filtered_topk+soft_labels | reference loop | ratio | torch mm+topk alone | "
          "filter+soft given top-k: stx / loop")
    for NB in banks:
        emb = torch.randn(NB, D, generator=g).to(dev)
        labels = torch.randint(0, 20, (NB,), generator=g).to(dev)
        expr = torch.rand(NB, G, generator=g).to(dev)
        qb = torch.randn(B, D, generator=g).to(dev)
        label_list = labels.tolist()

        def fused():
            s, i, keep = stx.ops.filtered_topk(qb, emb, labels, kk, types)
            return stx.ops.soft_labels(i, s, keep, expr, "mean")

        soft, conf = fused()
        rsoft, rconf = reference_soft_labels_loop(qb, emb, label_list, expr, kk, types)
        assert torch.allclose(soft, rsoft, atol=1e-5) and torch.allclose(conf, rconf, atol=1e-5)
        t_fused = median_time(fused, fast_reps)
        t_loop = median_time(lambda: reference_soft_labels_loop(qb, emb, label_list, expr, kk, types), loop_reps)
        # Where the time goes: both pay for the [B, N] similarity + top-k; the rest is what stx fuses.
        t_sim = median_time(lambda: torch.topk(F.normalize(qb, dim=1) @ F.normalize(emb, dim=1).T, kk, dim=1),
                            fast_reps)
        s, i = stx.ops.cosine_topk(qb, emb, kk)
        t_stage = median_time(
            lambda: stx.ops.soft_labels(i, s, stx.ops.majority_filter(i, labels, types), expr, "mean"),
            fast_reps)
        t_stage_ref = median_time(lambda: reference_filter_loop(s, i, label_list, expr, types), loop_reps)
        print(f"  {NB:5d} | {t_fused * 1e3:8.2f} ms | {t_loop * 1e3:8.2f} ms | {t_loop / t_fused:5.1f}x | "
              f"{t_sim * 1e3:7.2f} ms | {t_stage * 1e3:.3f} / {t_stage_ref * 1e3:.2f} ms "
              f"({t_stage_ref / t_stage:.0f}x)")

if __name__ == "__main__":
    main()

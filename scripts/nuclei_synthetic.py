#!/usr/bin/env python
"""Synthetic check of the nucleus system (issue 19): tiles of touching nuclei of known types, a
NucleusNet trained on them (hv_maps targets, nucleus_loss), instances from hv_instances, scored
with instance_metrics / instance_class_metrics against two simple baselines:

- segmentation: threshold the image's nuclear stain + connected components (scipy.ndimage.label);
- classification: every predicted nucleus gets the training tiles' majority type.

Nuclei: ellipses of three types that differ in size and stain (type 1 small and dark, type 2
large and pale, type 3 elongated and purple), often touching; 10 % of the nuclei have an unknown
type (ignored by the type loss and by the metrics), as ST-derived labels do. Held-out tiles come
from another generator seed. Prints per seed and mean ± 95 % t-interval over seeds (paired).

    .venv/bin/python scripts/nuclei_synthetic.py --seeds 0,1,2 --steps 300
"""
from __future__ import annotations

import argparse
import json

import numpy as np
import torch
from scipy import ndimage

import stx
from stx.modules import NucleusNet, nucleus_loss
from stx.pipeline.stats import mean_interval

TYPES = 3
STAIN = {1: (0.25, 0.1, 0.45), 2: (0.65, 0.45, 0.75), 3: (0.55, 0.15, 0.65)}  # RGB of each type's nucleus
SHAPE = {1: (3.0, 3.0), 2: (6.0, 5.0), 3: (7.0, 2.5)}  # semi-axes


def make_tile(rng, size=64, count=14):
    """(image [3, H, W], instances [H, W], types [H, W] with -1 = unknown type) of one tile."""
    yy, xx = np.mgrid[:size, :size].astype(np.float64)
    inst = np.zeros((size, size), np.int64)
    types = np.zeros((size, size), np.int64)
    image = np.ones((3, size, size)) * np.array([0.92, 0.85, 0.9])[:, None, None]  # eosin-like background
    for i in range(1, count + 1):
        t = int(rng.integers(1, TYPES + 1))
        a, b = SHAPE[t]
        cy, cx, angle = rng.uniform(4, size - 4), rng.uniform(4, size - 4), rng.uniform(0, np.pi)
        dy, dx = yy - cy, xx - cx
        u, v = dx * np.cos(angle) + dy * np.sin(angle), -dx * np.sin(angle) + dy * np.cos(angle)
        disc = ((u / a) ** 2 + (v / b) ** 2 <= 1) & (inst == 0)
        if disc.sum() < 6:
            continue
        inst[disc] = i
        types[disc] = -1 if rng.random() < 0.1 else t
        image[:, disc] = np.array(STAIN[t])[:, None] * rng.uniform(0.85, 1.15)
    image += rng.normal(0, 0.06, image.shape)
    image = ndimage.gaussian_filter(image, (0, 0.6, 0.6))
    return torch.from_numpy(image).float(), torch.from_numpy(inst), torch.from_numpy(types)


def tiles(seed, n):
    rng = np.random.default_rng(seed)
    out = [make_tile(rng) for _ in range(n)]
    return [torch.stack(x) for x in zip(*out)]


def predicted_types(inst, type_logits):
    """Per-pixel type map: each predicted nucleus takes the majority of its pixels' argmax types."""
    pixel = type_logits.argmax(0)
    out = torch.zeros_like(inst)
    for i in inst.unique():
        if i == 0:
            continue
        m = inst == i
        votes = torch.bincount(pixel[m], minlength=TYPES + 1)
        votes[0] = 0
        out[m] = int(votes.argmax()) if votes.max() > 0 else 0
    return out


def scores(true_inst, true_types, pred_inst, pred_types):
    """Mean over tiles of PQ, AJI, Dice, mPQ and macro F1 (unknown true types are 0 = no class)."""
    rows = []
    for t, tt, p, pt in zip(true_inst, true_types, pred_inst, pred_types):
        m = stx.ops.instance_metrics(t, p)
        c = stx.ops.instance_class_metrics(t, p, tt.clamp_min(0), pt, TYPES)
        rows.append({"pq": m["pq"], "aji": m["aji"], "dice": m["dice"], "mpq": c["mpq"], "macro_f1": c["macro_f1"]})
    return {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}


def run(seed, steps, n_train, n_test):
    torch.manual_seed(seed)
    images, inst, types = tiles(1000 + seed, n_train)
    hv = torch.stack([stx.ops.hv_maps(i) for i in inst])
    net = NucleusNet(num_types=TYPES, width=16, stages=3, decoder_channels=32)
    opt = torch.optim.Adam(net.parameters(), lr=3e-3)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, steps)
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        b = torch.randint(0, n_train, (8,), generator=g)
        loss = nucleus_loss(*net(images[b]), inst[b], hv[b], types[b])
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
    t_images, t_inst, t_types = tiles(5000 + seed, n_test)
    net.eval()
    with torch.no_grad():
        np_logits, hv_pred, tp_logits = net(t_images)
    pred = [stx.ops.hv_instances(p.softmax(0)[1], h, 0.5, 0.4, 6) for p, h in zip(np_logits, hv_pred)]
    model = scores(t_inst, t_types, pred, [predicted_types(p, tp) for p, tp in zip(pred, tp_logits)])
    # Baselines: stain threshold + connected components; the training majority type for every nucleus.
    majority = int(torch.bincount(types[types > 0].flatten(), minlength=TYPES + 1).argmax())
    stain = 1 - t_images.mean(1)  # nuclei are darker than the background
    cc = [torch.from_numpy(ndimage.label(ndimage.binary_opening(s.numpy() > 0.3))[0]) for s in stain]
    baseline_seg = scores(t_inst, t_types, cc, [(c > 0).long() * majority for c in cc])
    baseline_cls = scores(t_inst, t_types, pred, [(p > 0).long() * majority for p in pred])
    return {"model": model, "threshold_cc": baseline_seg, "model_seg_majority_type": baseline_cls}


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--train-tiles", type=int, default=48)
    ap.add_argument("--test-tiles", type=int, default=16)
    ap.add_argument("--json", default=None, help="write the per-seed results here")
    a = ap.parse_args()
    seeds = [int(s) for s in a.seeds.split(",")]
    results = {s: run(s, a.steps, a.train_tiles, a.test_tiles) for s in seeds}
    for s, r in results.items():
        print(f"seed {s}: " + "; ".join(f"{name} " + " ".join(f"{k}={v:.3f}" for k, v in m.items())
                                          for name, m in r.items()), flush=True)
    print(f"\nmean ± 95 % t-interval over {len(seeds)} seeds (held-out tiles):")
    for name in results[seeds[0]]:
        print(f"  {name:24s} " + "  ".join(
            "{}={:.3f} ± {:.3f}".format(k, *mean_interval([results[s][name][k] for s in seeds]))
            for k in results[seeds[0]][name]))
    for k, base in (("pq", "threshold_cc"), ("macro_f1", "model_seg_majority_type")):
        d = [results[s]["model"][k] - results[s][base][k] for s in seeds]
        print(f"  paired {k} model − {base}: " + "{:.3f} ± {:.3f}".format(*mean_interval(d)))
    if a.json:
        with open(a.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()

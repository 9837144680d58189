"""Straightforward NumPy definitions of the nucleus instance metrics (one boolean mask per nucleus,
every pair compared), the independent reference of stx.ops.instance_metrics / instance_class_metrics."""
from __future__ import annotations

import math

import numpy as np


def _ids(m):
    return [int(i) for i in np.unique(m) if i > 0]


def _iou_table(t, p, tids, pids):
    inter = np.array([[np.sum((t == i) & (p == j)) for j in pids] for i in tids], dtype=float).reshape(len(tids),
                                                                                                       len(pids))
    area_t = np.array([np.sum(t == i) for i in tids], dtype=float)
    area_p = np.array([np.sum(p == j) for j in pids], dtype=float)
    union = area_t[:, None] + area_p[None, :] - inter
    return inter, union, area_t, area_p


def _quality(tp, fp, fn, sum_iou):
    denom = tp + 0.5 * (fp + fn)
    return (tp / denom if denom else math.nan, sum_iou / tp if tp else math.nan, sum_iou / denom if denom else math.nan)


def instance_metrics(t, p, thr=0.5):
    t, p = np.asarray(t), np.asarray(p)
    tids, pids = _ids(t), _ids(p)
    inter, union, area_t, area_p = _iou_table(t, p, tids, pids)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    matched = iou > thr
    tp = int(matched.sum())
    fp, fn = len(pids) - tp, len(tids) - tp
    dq, sq, pq = _quality(tp, fp, fn, float(iou[matched].sum()))
    fg = int((t > 0).sum() + (p > 0).sum())
    dice = 2 * int(((t > 0) & (p > 0)).sum()) / fg if fg else math.nan
    c = u = 0.0
    used = set()
    for a in range(len(tids)):
        if not len(pids) or inter[a].max() == 0:
            u += area_t[a]
            continue
        b = int(np.argmax(iou[a]))  # first maximum: the lowest id
        c += inter[a, b]
        u += union[a, b]
        used.add(b)
    u += sum(area_p[b] for b in range(len(pids)) if b not in used)
    aji = c / u if u else math.nan
    return {"dice": dice, "aji": aji, "dq": dq, "sq": sq, "pq": pq, "tp": tp, "fp": fp, "fn": fn}


def nucleus_class(inst, typ, i, num_classes):
    votes = np.bincount(np.asarray(typ)[np.asarray(inst) == i], minlength=num_classes + 1)
    votes[0] = 0
    return int(np.argmax(votes)) if votes.max() > 0 else 0


def instance_class_metrics(t, p, tt, pt, num_classes, thr=0.5):
    t, p = np.asarray(t), np.asarray(p)
    tids, pids = _ids(t), _ids(p)
    tcls = [nucleus_class(t, tt, i, num_classes) for i in tids]
    pcls = [nucleus_class(p, pt, j, num_classes) for j in pids]
    inter, union, _, _ = _iou_table(t, p, tids, pids)
    iou = np.divide(inter, union, out=np.zeros_like(inter), where=union > 0)
    pq = np.zeros((num_classes, 6))
    f1 = np.zeros((num_classes, 4))
    for c in range(1, num_classes + 1):
        rows = [a for a in range(len(tids)) if tcls[a] == c]
        cols = [b for b in range(len(pids)) if pcls[b] == c]
        sub = iou[np.ix_(rows, cols)]
        tp = int((sub > thr).sum())
        fp, fn = len(cols) - tp, len(rows) - tp
        pq[c - 1] = [*_quality(tp, fp, fn, float(sub[sub > thr].sum())), tp, fp, fn]
        ctp = cfp = cfn = 0
        for a, b in zip(*np.nonzero(iou > thr)):
            ct, cp = tcls[a], pcls[b]
            if ct == 0:
                continue
            ctp += ct == c and cp == c
            cfp += cp == c and ct != c
            cfn += ct == c and cp != c
        denom = 2 * ctp + cfp + cfn
        f1[c - 1] = [2 * ctp / denom if denom else math.nan, ctp, cfp, cfn]
    return pq, f1


def random_nuclei(rng, size=40, count=12, id_range=10**6):
    """A map of `count` discs with random non-contiguous ids (later discs cover earlier ones)."""
    m = np.zeros((size, size), dtype=np.int64)
    yy, xx = np.mgrid[:size, :size]
    for i in rng.choice(np.arange(1, id_range), size=count, replace=False):
        cy, cx, r = rng.integers(0, size), rng.integers(0, size), rng.integers(2, 6)
        m[(yy - cy) ** 2 + (xx - cx) ** 2 <= r * r] = i
    return m


def perturb(rng, m, drop=0.2, extra=3):
    """A prediction of `m`: shifted by up to a pixel, relabelled, some nuclei dropped, some added."""
    p = np.roll(m, (int(rng.integers(-1, 2)), int(rng.integers(-1, 2))), axis=(0, 1))
    ids = _ids(p)
    relabel = dict(zip(ids, rng.choice(np.arange(1, 10**5), size=len(ids), replace=False)))
    out = np.zeros_like(p)
    for i, j in relabel.items():
        if rng.random() >= drop:
            out[p == i] = j
    fake = random_nuclei(rng, m.shape[0], extra, 10**5) if extra else np.zeros_like(m)
    out[fake > 0] = fake[fake > 0] + 10**5
    return out

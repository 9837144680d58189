"""Straightforward NumPy/SciPy definitions of hv_maps and hv_instances (docs/ops/nucleus_maps.md),
the independent reference of the stx kernels: float32 arithmetic in the documented order, SciPy's
connected-component labelling, a heapq flood."""
from __future__ import annotations

import heapq

import numpy as np
from scipy import ndimage


def hv_maps(inst):
    inst = np.asarray(inst)
    out = np.zeros((2, *inst.shape), dtype=np.float64)
    yy, xx = np.mgrid[: inst.shape[0], : inst.shape[1]]
    for i in np.unique(inst[inst > 0]):
        m = inst == i
        for c, coord in enumerate((xx, yy)):
            d = coord[m] - coord[m].mean()
            lo, hi = d.min(), d.max()
            out[c][m] = np.where(d < 0, d / (-lo if lo < 0 else 1), np.where(d > 0, d / (hi if hi > 0 else 1), 0))
    return out.astype(np.float32)


def _sobel(f, axis):
    p = np.pad(f, 1, mode="edge")
    H, W = f.shape
    s = lambda dy, dx: p[1 + dy: 1 + dy + H, 1 + dx: 1 + dx + W]  # noqa: E731
    two = np.float32(2)
    if axis == 1:
        d = (s(-1, 1) + two * s(0, 1) + s(1, 1)) - (s(-1, -1) + two * s(0, -1) + s(1, -1))
    else:
        d = (s(1, -1) + two * s(1, 0) + s(1, 1)) - (s(-1, -1) + two * s(-1, 0) + s(-1, 1))
    lo, hi = d.min(), d.max()
    return (d - lo) / (hi - lo) if hi > lo else np.zeros_like(d)


def _drop_small(labels, min_size):
    sizes = np.bincount(labels.ravel())
    small = sizes < min_size
    small[0] = False
    labels[small[labels]] = 0


def hv_instances(prob, hv, threshold=0.5, edge_threshold=0.4, min_size=10):
    prob, hv = np.asarray(prob, dtype=np.float32), np.asarray(hv, dtype=np.float32)
    fg = prob >= np.float32(threshold)
    one = np.float32(1)
    energy = np.maximum(one - _sobel(hv[0], 1), one - _sobel(hv[1], 0))
    eight = np.ones((3, 3), dtype=int)
    labels, count = ndimage.label(fg & (energy < edge_threshold), structure=eight)
    _drop_small(labels, min_size)
    H, W = prob.shape
    heap = [(energy[p // W, p % W], p, p) for p in np.flatnonzero(labels.ravel())]
    order = len(heap)
    heapq.heapify(heap)
    while heap:
        _, _, p = heapq.heappop(heap)
        y, x = divmod(p, W)
        for ny, nx in ((y - 1, x), (y + 1, x), (y, x - 1), (y, x + 1)):
            if 0 <= ny < H and 0 <= nx < W and fg[ny, nx] and labels[ny, nx] == 0:
                labels[ny, nx] = labels[y, x]
                heapq.heappush(heap, (energy[ny, nx], order, ny * W + nx))
                order += 1
    rest, n_rest = ndimage.label(fg & (labels == 0), structure=eight)
    labels[rest > 0] = rest[rest > 0] + count
    _drop_small(labels, min_size)
    out = np.zeros_like(labels)
    for new, old in enumerate(dict.fromkeys(v for v in labels.ravel() if v), start=1):
        out[labels == old] = new
    return out


def same_partition(a, b):
    """True when two instance maps are equal up to a renaming of their ids."""
    a, b = np.asarray(a), np.asarray(b)
    if not np.array_equal(a > 0, b > 0):
        return False
    pairs = set(zip(a[a > 0].tolist(), b[b > 0].tolist()))
    return len(pairs) == len({p[0] for p in pairs}) == len({p[1] for p in pairs})

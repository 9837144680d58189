"""hv_maps and hv_instances against straightforward NumPy/SciPy definitions
(tests/python/nucleus_maps_reference.py), on constructed touching nuclei (recovered from their own
distance maps, where threshold + connected components merges them) and on bad input."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy import ndimage

import instance_reference as inst_ref
import nucleus_maps_reference as ref
import stx


def touching_discs(size=48):
    """Three discs, two of them touching along a line, one apart; ids not contiguous."""
    yy, xx = np.mgrid[:size, :size]
    m = np.zeros((size, size), dtype=np.int64)
    for i, (cy, cx, r) in zip((4, 9, 30), ((20, 14, 7), (20, 27, 7), (38, 38, 5))):
        m[((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & (m == 0)] = i
    return m


@pytest.mark.parametrize("seed", range(6))
def test_hv_maps_match_the_reference(seed):
    t = inst_ref.random_nuclei(np.random.default_rng(seed))
    got = stx.ops.hv_maps(torch.from_numpy(t))
    assert got.dtype == torch.float32 and got.shape == (2, *t.shape)
    np.testing.assert_allclose(got.numpy(), ref.hv_maps(t), atol=1e-6)
    assert got.abs().max() <= 1 and (got[:, torch.from_numpy(t) == 0] == 0).all()


def test_touching_nuclei_are_recovered_from_their_own_maps():
    t = touching_discs()
    prob = torch.from_numpy((t > 0).astype(np.float32))
    got = stx.ops.hv_instances(prob, stx.ops.hv_maps(torch.from_numpy(t)), min_size=5)
    m = stx.ops.instance_metrics(torch.from_numpy(t), got)
    assert (m["tp"], m["fp"], m["fn"]) == (3, 0, 0) and m["sq"] > 0.95
    merged, n = ndimage.label(t > 0)  # the baseline: threshold + connected components
    baseline = stx.ops.instance_metrics(torch.from_numpy(t), torch.from_numpy(merged))
    assert n == 2 and baseline["fn"] >= 1 and baseline["pq"] < m["pq"]


@pytest.mark.parametrize("seed", range(6))
def test_hv_instances_match_the_reference(seed):
    rng = np.random.default_rng(seed)
    t = inst_ref.random_nuclei(rng, size=40, count=10)
    hv = ref.hv_maps(t) + rng.normal(0, 0.15, size=(2, *t.shape)).astype(np.float32)
    prob = ndimage.gaussian_filter((t > 0).astype(np.float32), 0.7) + rng.normal(0, 0.05, t.shape).astype(np.float32)
    for thr, edge, min_size in ((0.5, 0.4, 10), (0.4, 0.3, 3)):
        got = stx.ops.hv_instances(torch.from_numpy(prob), torch.from_numpy(hv), thr, edge, min_size).numpy()
        want = ref.hv_instances(prob, hv, thr, edge, min_size)
        np.testing.assert_array_equal(got, want)


def test_small_and_empty_cases():
    empty = torch.zeros(6, 7)
    assert (stx.ops.hv_instances(empty, torch.zeros(2, 6, 7)) == 0).all()
    assert stx.ops.hv_instances(torch.zeros(0, 5), torch.zeros(2, 0, 5)).shape == (0, 5)
    blob = torch.zeros(6, 7)
    blob[1:3, 1:3] = 1  # 4 px
    flat = torch.zeros(2, 6, 7)  # no distance information: each foreground component is one nucleus
    assert stx.ops.hv_instances(blob, flat, min_size=4).unique().tolist() == [0, 1]
    assert (stx.ops.hv_instances(blob, flat, min_size=5) == 0).all()
    assert stx.ops.hv_maps(torch.zeros(3, 3, dtype=torch.long)).abs().sum() == 0


@pytest.mark.parametrize("call,match", [
    (lambda p, hv: stx.ops.hv_instances(p[0], hv), "nuclear_prob must be a 2-D"),
    (lambda p, hv: stx.ops.hv_instances(p, hv[:1]), "hv must be \\[2, H, W\\] = \\[2, 4, 5\\]"),
    (lambda p, hv: stx.ops.hv_instances(p, hv[:, :3]), "hv must be \\[2, H, W\\]"),
    (lambda p, hv: stx.ops.hv_instances(p.long(), hv), "nuclear_prob must be floating point"),
    (lambda p, hv: stx.ops.hv_instances(p * float("nan"), hv), "nuclear_prob holds NaN"),
    (lambda p, hv: stx.ops.hv_instances(p, hv * float("inf")), "hv holds NaN or infinite"),
    (lambda p, hv: stx.ops.hv_instances(p, hv, 0.0), "threshold must be in \\(0, 1\\]"),
    (lambda p, hv: stx.ops.hv_instances(p, hv, 0.5, 1.5), "edge_threshold must be in"),
    (lambda p, hv: stx.ops.hv_instances(p, hv, 0.5, 0.4, 0), "min_size must be >= 1"),
    (lambda p, hv: stx.ops.hv_maps(p), "instances must hold integer labels"),
    (lambda p, hv: stx.ops.hv_maps(-torch.ones(2, 2, dtype=torch.long)), "negative label"),
])
def test_bad_input_is_a_clear_error(call, match):
    p, hv = torch.rand(4, 5), torch.rand(2, 4, 5) * 2 - 1
    with pytest.raises(RuntimeError, match=match):
        call(p, hv)


@pytest.mark.parametrize("op,args", [
    (torch.ops.stx.hv_maps.default, (torch.tensor([[1, 0, 2], [1, 2, 2]]),)),
    (torch.ops.stx.hv_instances.default, (torch.rand(5, 6), torch.rand(2, 5, 6), 0.5, 0.4, 2)),
])
def test_opcheck(op, args):
    torch.library.opcheck(op, args)

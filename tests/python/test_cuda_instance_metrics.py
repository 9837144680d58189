"""instance_metrics, instance_class_metrics, hv_maps and hv_instances on CUDA against the CPU
kernels: results on the maps' device, equal to the CPU's."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import instance_reference as ref
import stx

pytestmark = pytest.mark.cuda


@pytest.mark.parametrize("seed", range(3))
def test_instance_metrics_agree(gpu, seed):
    rng = np.random.default_rng(seed)
    t = torch.from_numpy(ref.random_nuclei(rng))
    p = torch.from_numpy(ref.perturb(rng, t.numpy()))
    tt, pt = (t > 0).long() * 2, (p > 0).long()
    want = torch.ops.stx.instance_metrics(t, p, 0.5)
    got = torch.ops.stx.instance_metrics(t.to(gpu), p.to(gpu), 0.5)
    assert got.device == torch.device(gpu) and torch.equal(got.cpu().nan_to_num(-1), want.nan_to_num(-1))
    want_pq, want_f1 = torch.ops.stx.instance_class_metrics(t, p, tt, pt, 2, 0.5)
    got_pq, got_f1 = torch.ops.stx.instance_class_metrics(t.to(gpu), p.to(gpu), tt.to(gpu), pt.to(gpu), 2, 0.5)
    assert got_pq.device == torch.device(gpu)
    assert torch.equal(got_pq.cpu().nan_to_num(-1), want_pq.nan_to_num(-1))
    assert torch.equal(got_f1.cpu().nan_to_num(-1), want_f1.nan_to_num(-1))


def test_maps_on_two_devices_are_an_error(gpu):
    if gpu == "cpu":
        pytest.skip("the dry run's stand-in device is the CPU: there is no second device")
    t = torch.ones(3, 3, dtype=torch.long)
    with pytest.raises(RuntimeError, match="pred_inst"):
        torch.ops.stx.instance_metrics(t.to(gpu), t, 0.5)


def test_nucleus_maps_agree(gpu):
    rng = np.random.default_rng(7)
    t = torch.from_numpy(ref.random_nuclei(rng))
    hv = torch.ops.stx.hv_maps(t)
    got = torch.ops.stx.hv_maps(t.to(gpu))
    assert got.device == torch.device(gpu) and torch.equal(got.cpu(), hv)
    prob = (t > 0).float()
    want = torch.ops.stx.hv_instances(prob, hv, 0.5, 0.4, 5)
    got = torch.ops.stx.hv_instances(prob.to(gpu), hv.to(gpu), 0.5, 0.4, 5)
    assert got.device == torch.device(gpu) and torch.equal(got.cpu(), want)

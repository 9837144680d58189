"""soft_labels against a pure-PyTorch reference (forward, autograd gradients), float64 gradcheck
and opcheck."""
from __future__ import annotations

import pytest
import torch

import stx
from conftest import devices


def reference_soft_labels(index, scores, keep, bank, weighting, temperature):
    valid = index >= 0
    used = valid & (keep if keep is not None else torch.ones_like(valid))
    n_all = valid.sum(1)
    conf = torch.where(n_all > 0, (scores * valid).sum(1) / n_all.clamp_min(1), torch.zeros_like(scores[:, 0]))
    if weighting == "mean":
        w = used.to(scores.dtype)
    elif weighting == "similarity":
        p = scores.clamp_min(0) * used
        fallback = ~(p.sum(1, keepdim=True) > 0)
        w = torch.where(fallback, used.to(scores.dtype), p)
    else:
        logits = (scores / temperature).masked_fill(~used, float("-inf"))
        w = torch.softmax(logits, 1).nan_to_num(0.0)
    w = w / w.sum(1, keepdim=True).clamp_min(1e-300) * (w.sum(1, keepdim=True) > 0)
    gathered = bank[index.clamp_min(0)]  # [Q, k, G]
    soft = (w.unsqueeze(-1) * gathered).sum(1)
    return soft, conf


def make_inputs(seed, Q=9, k=7, N=40, G=5, device="cpu"):
    g = torch.Generator().manual_seed(seed)
    index = torch.randint(-1, N, (Q, k), generator=g)
    index[0] = -1  # a row without neighbours
    scores = torch.rand(Q, k, generator=g, dtype=torch.float64) * 2 - 0.5
    scores[1] = -0.3  # similarity weights all vanish -> uniform fallback
    keep = torch.rand(Q, k, generator=g) > 0.3
    keep[2] = False  # nothing kept, but confidence still uses all valid neighbours
    bank = torch.randn(N, G, generator=g, dtype=torch.float64)
    return [t.to(device) for t in (index, scores, keep, bank)]


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("weighting", ["mean", "similarity", "softmax"])
@pytest.mark.parametrize("use_keep", [True, False])
def test_forward_and_gradients_match_reference(device, weighting, use_keep):
    index, scores, keep, bank = make_inputs(1, device=device)
    keep = keep if use_keep else None
    s1, b1 = scores.clone().requires_grad_(), bank.clone().requires_grad_()
    soft, conf = stx.ops.soft_labels(index, s1, keep, b1, weighting, 0.7)
    s2, b2 = scores.clone().requires_grad_(), bank.clone().requires_grad_()
    rsoft, rconf = reference_soft_labels(index, s2, keep, b2, weighting, 0.7)
    torch.testing.assert_close(soft, rsoft)
    torch.testing.assert_close(conf, rconf)
    g = torch.Generator().manual_seed(2)
    go, gc = torch.randn(soft.shape, generator=g, dtype=soft.dtype), torch.randn(conf.shape, generator=g, dtype=conf.dtype)
    ((soft * go.to(device)).sum() + (conf * gc.to(device)).sum()).backward()
    ((rsoft * go.to(device)).sum() + (rconf * gc.to(device)).sum()).backward()
    torch.testing.assert_close(s1.grad, s2.grad)
    torch.testing.assert_close(b1.grad, b2.grad)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("weighting", ["mean", "similarity", "softmax"])
def test_gradcheck_float64(device, weighting):
    index, scores, keep, bank = make_inputs(3, device=device)
    scores = scores + 0.01 * (scores.abs() < 0.01)  # keep away from the clamp kink at 0
    scores.requires_grad_()
    bank.requires_grad_()
    assert torch.autograd.gradcheck(lambda s, b: stx.ops.soft_labels(index, s, keep, b, weighting, 0.5), (scores, bank))


@pytest.mark.parametrize("device", devices())
def test_only_bank_requires_grad_and_empty_rows(device):
    index, scores, keep, bank = make_inputs(4, device=device)
    bank.requires_grad_()
    soft, conf = stx.ops.soft_labels(index, scores, keep, bank)
    assert torch.equal(soft[0].cpu(), torch.zeros(5, dtype=torch.float64)) and conf[0] == 0
    assert torch.equal(soft[2].cpu(), torch.zeros(5, dtype=torch.float64)) and conf[2] != 0
    soft.sum().backward()
    assert bank.grad.shape == bank.shape


@pytest.mark.parametrize("device", devices())
def test_float32_matches_float64(device):
    index, scores, keep, bank = make_inputs(5, device=device)
    s64, c64 = stx.ops.soft_labels(index, scores, keep, bank, "softmax", 0.3)
    s32, c32 = stx.ops.soft_labels(index, scores.float(), keep, bank.float(), "softmax", 0.3)
    torch.testing.assert_close(s32.double(), s64, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(c32.double(), c64, atol=1e-6, rtol=1e-6)


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    index, scores, keep, bank = make_inputs(6, device=device)
    scores.requires_grad_()
    bank.requires_grad_()
    torch.library.opcheck(torch.ops.stx.soft_labels.default, (index, scores, keep, bank, "softmax", 0.5))
    torch.library.opcheck(torch.ops.stx.soft_labels.default, (index, scores.detach(), None, bank, "mean", 1.0))


@pytest.mark.parametrize("device", devices())
def test_double_backward_raises(device):
    index, scores, keep, bank = make_inputs(7, device=device)
    bank.requires_grad_()
    soft, _ = stx.ops.soft_labels(index, scores, keep, bank)
    (g,) = torch.autograd.grad(soft.square().sum(), bank, create_graph=True)
    with pytest.raises(RuntimeError):
        g.sum().backward()


@pytest.mark.parametrize("device", devices())
def test_bad_inputs_name_the_argument(device):
    index, scores, keep, bank = make_inputs(8, device=device)
    with pytest.raises(RuntimeError, match="index values must be in"):
        stx.ops.soft_labels(index + 100, scores, keep, bank)
    with pytest.raises(RuntimeError, match="weighting must be"):
        stx.ops.soft_labels(index, scores, keep, bank, "median")
    with pytest.raises(RuntimeError, match="temperature must be positive"):
        stx.ops.soft_labels(index, scores, keep, bank, "softmax", 0.0)
    with pytest.raises(RuntimeError, match="bank_values dtype"):
        stx.ops.soft_labels(index, scores, keep, bank.float())
    with pytest.raises(RuntimeError, match="keep shape"):
        stx.ops.soft_labels(index, scores, keep[:, :3], bank)
    with pytest.raises(RuntimeError, match="index must be int64"):
        stx.ops.soft_labels(index.int(), scores, keep, bank)

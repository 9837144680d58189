"""soft_label_loss / pearson_loss / contrastive_loss against autograd composites written with
torch.nn.functional, float64 gradcheck and opcheck."""
from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

import stx
from conftest import devices


def ref_soft_label_loss(pred, target, soft, conf, weight, threshold, base, delta):
    main = F.mse_loss(pred, target) if base == "mse" else F.huber_loss(pred, target, delta=delta)
    gate = (conf > threshold).to(pred.dtype)[:, None]
    return main + weight * ((pred - soft).square() * gate).mean()


def ref_pearson_loss(pred, target, dim, eps):
    xc = pred - pred.mean(dim, keepdim=True)
    yc = target - target.mean(dim, keepdim=True)
    r = (xc * yc).sum(dim) / (xc.square().sum(dim).sqrt() * yc.square().sum(dim).sqrt() + eps)
    return 1 - r.mean()


def ref_contrastive(a, b, t):
    logits = F.normalize(a, dim=1) @ F.normalize(b, dim=1).T / t
    labels = torch.arange(a.shape[0], device=a.device)
    return 0.5 * (F.cross_entropy(logits, labels) + F.cross_entropy(logits.T, labels))


def rand(*shape, seed=0, device="cpu"):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64).to(device)


def check_against(fn, ref, inputs):
    a = [t.clone().requires_grad_() for t in inputs]
    b = [t.clone().requires_grad_() for t in inputs]
    out, rout = fn(*a), ref(*b)
    torch.testing.assert_close(out, rout)
    out.backward(torch.tensor(1.7, dtype=out.dtype, device=out.device))
    rout.backward(torch.tensor(1.7, dtype=rout.dtype, device=rout.device))
    for x, y in zip(a, b):
        # autograd of sqrt(0) gives NaN for a constant series; the fused kernel stays finite there
        assert torch.isfinite(x.grad).all()
        finite = torch.isfinite(y.grad)
        torch.testing.assert_close(x.grad[finite], y.grad[finite])


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("base", ["mse", "huber"])
def test_soft_label_loss_matches_composite(device, base):
    pred, target, soft = rand(16, 11, seed=1, device=device), rand(16, 11, seed=2, device=device), rand(16, 11, seed=3, device=device)
    conf = torch.linspace(-0.2, 0.6, 16, dtype=torch.float64, device=device)  # half gated
    fn = lambda p, t, s: stx.ops.soft_label_loss(p, t, s, conf, 0.3, 0.1, base, 0.8)  # noqa: E731
    ref = lambda p, t, s: ref_soft_label_loss(p, t, s, conf, 0.3, 0.1, base, 0.8)  # noqa: E731
    check_against(fn, ref, [pred, target, soft])


def test_soft_label_loss_gate_is_per_sample_not_batch_global():
    pred, target, soft = rand(4, 3, seed=4), rand(4, 3, seed=5), rand(4, 3, seed=6)
    conf = torch.tensor([0.9, 0.0, 0.0, 0.0], dtype=torch.float64)
    loss = stx.ops.soft_label_loss(pred, target, soft, conf, 1.0)
    per_sample = F.mse_loss(pred, target) + (pred[0] - soft[0]).square().sum() / 12
    batch_global = F.mse_loss(pred, target) + F.mse_loss(pred, soft) * 0.25  # the reference's form
    torch.testing.assert_close(loss, per_sample)
    assert not torch.allclose(loss, batch_global)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dim", [0, 1, -1])
def test_pearson_loss_matches_composite(device, dim):
    pred, target = rand(30, 8, seed=7, device=device), rand(30, 8, seed=8, device=device)
    pred[:, 2] = 3.0  # a constant gene: r = 0, finite gradient
    check_against(lambda p, t: stx.ops.pearson_loss(p, t, dim), lambda p, t: ref_pearson_loss(p, t, dim, 1e-8),
                  [pred, target])


def test_pearson_loss_is_stable_for_large_offsets():
    g = torch.Generator().manual_seed(9)
    x = torch.randn(500, 4, generator=g)
    y = x + 0.5 * torch.randn(500, 4, generator=g)
    exact = ref_pearson_loss(x.double(), y.double(), 0, 1e-8)
    shifted = stx.ops.pearson_loss(x + 1e4, y + 1e4)  # float32 one-pass sums would lose every digit
    torch.testing.assert_close(shifted.double(), exact, atol=1e-4, rtol=0)


@pytest.mark.parametrize("device", devices())
def test_contrastive_loss_matches_composite(device):
    a, b = rand(12, 6, seed=10, device=device), rand(12, 6, seed=11, device=device)
    check_against(lambda a, b: stx.ops.contrastive_loss(a, b, 0.5), lambda a, b: ref_contrastive(a, b, 0.5), [a, b])


@pytest.mark.parametrize("device", devices())
def test_gradcheck_float64(device):
    p, t, s = (rand(6, 5, seed=i, device=device).requires_grad_() for i in (12, 13, 14))
    conf = torch.tensor([0.0, 0.2, 0.5, 0.05, 0.3, 0.9], dtype=torch.float64, device=device)
    for base in ("mse", "huber"):
        assert torch.autograd.gradcheck(lambda p, t, s: stx.ops.soft_label_loss(p, t, s, conf, 0.5, 0.1, base, 0.6),
                                        (p, t, s))
    for dim in (0, 1):
        assert torch.autograd.gradcheck(lambda p, t: stx.ops.pearson_loss(p, t, dim), (p, t))
    assert torch.autograd.gradcheck(lambda a, b: stx.ops.contrastive_loss(a, b, 0.3), (p, t))


@pytest.mark.parametrize("device", devices())
def test_only_some_inputs_require_grad(device):
    p, t, s = rand(5, 4, seed=15, device=device).requires_grad_(), rand(5, 4, seed=16, device=device), rand(5, 4, seed=17, device=device)
    stx.ops.soft_label_loss(p, t, s, torch.ones(5, dtype=torch.float64, device=device)).backward()
    stx.ops.pearson_loss(p, t).backward()
    assert p.grad is not None and t.grad is None


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    p, t, s = (rand(6, 5, seed=i, device=device).requires_grad_() for i in (18, 19, 20))
    conf = torch.rand(6, dtype=torch.float64).to(device)
    torch.library.opcheck(torch.ops.stx.soft_label_loss.default, (p, t, s, conf, 0.1, 0.2, "huber", 0.5))
    torch.library.opcheck(torch.ops.stx.pearson_loss.default, (p, t, 1, 1e-8))
    torch.library.opcheck(torch.ops.stx.contrastive_loss.default, (p, t, 0.5))


@pytest.mark.parametrize("device", devices())
def test_bad_inputs_name_the_argument(device):
    p, t = rand(4, 3, device=device), rand(4, 3, device=device)
    conf = torch.ones(4, dtype=torch.float64, device=device)
    with pytest.raises(RuntimeError, match="base must be"):
        stx.ops.soft_label_loss(p, t, t, conf, base="l1")
    with pytest.raises(RuntimeError, match="confidence must have shape"):
        stx.ops.soft_label_loss(p, t, t, conf[:3])
    with pytest.raises(RuntimeError, match="soft dtype"):
        stx.ops.soft_label_loss(p, t, t.float(), conf)
    with pytest.raises(RuntimeError, match="target shape"):
        stx.ops.pearson_loss(p, t[:3])
    with pytest.raises(RuntimeError, match="dim must be in"):
        stx.ops.pearson_loss(p, t, 2)
    with pytest.raises(RuntimeError, match="at least 2 samples"):
        stx.ops.pearson_loss(p[:1], t[:1])
    with pytest.raises(RuntimeError, match="temperature must be positive"):
        stx.ops.contrastive_loss(p, t, 0.0)
    with pytest.raises(RuntimeError, match="b shape"):
        stx.ops.contrastive_loss(p, t[:, :2])

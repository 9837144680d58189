"""NucleusNet and nucleus_loss: output shapes, the loss against a pure-PyTorch re-implementation of
its documented terms (stx/modules/nucleus_net.h), float64 gradcheck of the loss, unknown types
ignored, and a few optimiser steps that fit a constructed nucleus tile."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import stx
from stx.modules import NucleusNet, nucleus_loss


def tile(seed=0, size=32):
    """Instances (two touching discs and one apart), their hv targets and types (one unknown)."""
    yy, xx = np.mgrid[:size, :size]
    inst = np.zeros((size, size), dtype=np.int64)
    types = np.zeros((size, size), dtype=np.int64)
    for i, (cy, cx, r, t) in enumerate(((12, 9, 5, 1), (12, 19, 5, 2), (25, 25, 4, -1)), start=1):
        disc = ((yy - cy) ** 2 + (xx - cx) ** 2 <= r * r) & (inst == 0)
        inst[disc], types[disc] = i, t
    inst_t = torch.from_numpy(inst)
    return inst_t[None], stx.ops.hv_maps(inst_t)[None], torch.from_numpy(types)[None]


def reference_loss(np_logits, hv, tp_logits, inst, hv_t, types):
    def dice(prob, onehot, keep):
        k = keep[:, None].to(prob.dtype)
        inter = (prob * onehot * k).sum((0, 2, 3))
        return (1 - (2 * inter + 1e-3) / (((prob + onehot) * k).sum((0, 2, 3)) + 1e-3)).mean()

    def sobel(m):
        kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=m.dtype)
        p = F.pad(m, (1, 1, 1, 1), mode="replicate")
        return torch.cat([F.conv2d(p[:, :1], kx[None, None]), F.conv2d(p[:, 1:], kx.T[None, None])], 1)

    nuclear = (inst > 0).long()
    loss = F.cross_entropy(np_logits, nuclear) + dice(np_logits.softmax(1), F.one_hot(nuclear, 2).permute(0, 3, 1, 2),
                                                       torch.ones_like(nuclear, dtype=torch.bool))
    on = (inst > 0)[:, None].to(hv.dtype)
    loss = loss + (hv - hv_t).pow(2).mean() + 2 * ((sobel(hv) - sobel(hv_t)).pow(2) * on).sum() / (2 * on.sum())
    known = types >= 0
    loss = loss + F.cross_entropy(tp_logits, types, ignore_index=-1)
    return loss + dice(tp_logits.softmax(1), F.one_hot(types.clamp_min(0), tp_logits.shape[1]).permute(0, 3, 1, 2),
                       known)


def test_forward_shapes():
    net = NucleusNet(num_types=3, width=8, stages=2, decoder_channels=8)
    np_logits, hv, tp = net(torch.rand(2, 3, 24, 40))
    assert np_logits.shape == (2, 2, 24, 40) and hv.shape == (2, 2, 24, 40) and tp.shape == (2, 4, 24, 40)
    with pytest.raises(RuntimeError, match="images must be \\[B, 3, H, W\\]"):
        net(torch.rand(2, 1, 24, 40))


def test_loss_matches_the_pytorch_reference_and_its_gradient_checks():
    inst, hv_t, types = tile()
    g = torch.Generator().manual_seed(0)
    args = [torch.randn(1, 2, 32, 32, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(1, 2, 32, 32, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(1, 3, 32, 32, generator=g, dtype=torch.float64, requires_grad=True)]
    got = nucleus_loss(*args, inst, hv_t.double(), types)
    want = reference_loss(*args, inst, hv_t.double(), types)
    assert got.item() == pytest.approx(want.item(), rel=1e-12)
    small = [a[..., :8, :8].detach().clone().requires_grad_() for a in args]
    assert torch.autograd.gradcheck(lambda a, b, c: nucleus_loss(a, b, c, inst[..., :8, :8],
                                                                  hv_t.double()[..., :8, :8], types[..., :8, :8]),
                                    small)


def test_unknown_types_are_ignored_by_the_type_terms_only():
    inst, hv_t, types = tile()
    g = torch.Generator().manual_seed(1)
    np_logits, hv, tp = torch.randn(1, 2, 32, 32, generator=g), torch.randn(1, 2, 32, 32, generator=g), \
        torch.randn(1, 3, 32, 32, generator=g)
    base = nucleus_loss(np_logits, hv, tp, inst, hv_t, types)
    unknown = inst == 3
    changed = tp.clone()
    changed[0, :, unknown[0]] += 10.0  # type logits of the unknown nucleus do not matter
    assert nucleus_loss(np_logits, hv, changed, inst, hv_t, types).item() == pytest.approx(base.item(), rel=1e-6)
    all_unknown = torch.where(types != 0, -1, types)
    assert torch.isfinite(nucleus_loss(np_logits, hv, tp, inst, hv_t, torch.full_like(types, -1)))
    assert torch.isfinite(nucleus_loss(np_logits, hv, tp, inst, hv_t, all_unknown))
    with pytest.raises(RuntimeError, match="types must be in \\[-1, 2\\]"):
        nucleus_loss(np_logits, hv, tp, inst, hv_t, types + 5)
    with pytest.raises(RuntimeError, match="instances must be \\[B, H, W\\]"):
        nucleus_loss(np_logits, hv, tp, inst[:, :5], hv_t, types)


def test_a_few_steps_fit_a_tile():
    torch.manual_seed(0)
    inst, hv_t, types = tile()
    image = torch.rand(1, 3, 32, 32) * 0.2 + (inst > 0)[:, None].float() * torch.tensor([0.6, 0.2, 0.5])[:, None, None]
    net = NucleusNet(num_types=2, width=8, stages=2, decoder_channels=8)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(30):
        loss = nucleus_loss(*net(image), inst, hv_t, types)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0]

"""soft_label_loss / pearson_loss / contrastive_loss on CUDA (ATen kernels in ops/cuda/) against the
fused CPU kernels, forward and gradients: random inputs, every gate open or shut, Huber beyond and
within delta, constant series (r = 0, finite gradient), large offsets, B = 1, float32; runs
bit-identical under deterministic algorithms."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic

pytestmark = pytest.mark.cuda


def rand(*shape, seed=0, scale=1.0, dtype=torch.float64):
    return (torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64) * scale).to(dtype)


def soft_label(base, weight=0.3, threshold=0.1, delta=0.8):
    return lambda p, t, s, conf: stx.ops.soft_label_loss(p, t, s, conf, weight, threshold, base, delta)


@pytest.mark.parametrize("base", ["mse", "huber"])
@pytest.mark.parametrize("gate", ["mixed", "all_open", "all_shut"])
@pytest.mark.parametrize("shape", [(1, 1), (16, 11), (300, 250)])
def test_soft_label_loss_agrees(gpu, base, gate, shape):
    B, G = shape
    conf = {"mixed": torch.linspace(-0.2, 0.6, B, dtype=torch.float64), "all_open": torch.ones(B, dtype=torch.float64),
            "all_shut": torch.zeros(B, dtype=torch.float64)}[gate]
    pred, target, soft = rand(B, G, seed=1, scale=2.0), rand(B, G, seed=2), rand(B, G, seed=3)  # |d| above and below delta
    assert_agree(soft_label(base), [pred, target, soft, conf], gpu, grad_inputs=[0, 1, 2], rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("dim", [0, 1, -1])
@pytest.mark.parametrize("case", ["random", "constant_series", "large_offset", "two_samples"])
def test_pearson_loss_agrees(gpu, dim, case):
    n = 2 if case == "two_samples" else 64
    pred, target = rand(n, 40, seed=4), rand(n, 40, seed=5)
    if case == "constant_series":
        pred[:, 3] = 2.5
        target[:, 7] = -1.0
    elif case == "large_offset":
        pred, target = pred + 1e4, target - 3e3
    assert_agree(lambda p, t: stx.ops.pearson_loss(p, t, dim), [pred, target], gpu, grad_inputs=[0, 1],
                 rtol=1e-8, atol=1e-10)


@pytest.mark.parametrize("B", [1, 7, 256])
@pytest.mark.parametrize("temperature", [0.05, 0.5, 2.0])
def test_contrastive_loss_agrees(gpu, B, temperature):
    a, b = rand(B, 32, seed=6), rand(B, 32, seed=7)
    a[0] = 0  # a zero row: the normalisation's eps branch
    assert_agree(lambda x, y: stx.ops.contrastive_loss(x, y, temperature), [a, b], gpu, grad_inputs=[0, 1],
                 rtol=1e-9, atol=1e-11)


def test_float32_losses_agree(gpu):
    B, G = 128, 200
    pred, target, soft = (rand(B, G, seed=s, dtype=torch.float32) for s in (8, 9, 10))
    conf = torch.rand(B, generator=torch.Generator().manual_seed(11)).float()
    tol = {"rtol": 1e-4, "atol": 1e-6}
    assert_agree(soft_label("huber"), [pred, target, soft, conf], gpu, grad_inputs=[0, 1, 2], **tol)
    assert_agree(lambda p, t: stx.ops.pearson_loss(p, t, 0), [pred, target], gpu, grad_inputs=[0, 1], **tol)
    assert_agree(lambda p, t: stx.ops.contrastive_loss(p, t, 0.5), [pred, target], gpu, grad_inputs=[0, 1], **tol)


def test_runs_are_bit_identical(gpu):
    B, G = 512, 300
    pred, target, soft = (rand(B, G, seed=s, dtype=torch.float32) for s in (12, 13, 14))
    conf = torch.rand(B, generator=torch.Generator().manual_seed(15)).float()
    assert_deterministic(lambda p, t, s, c: stx.ops.soft_label_loss(p, t, s, c, 0.5), [pred, target, soft, conf], gpu,
                         grad_inputs=[0, 1, 2])
    assert_deterministic(lambda p, t: stx.ops.pearson_loss(p, t, 1), [pred, target], gpu, grad_inputs=[0, 1])
    assert_deterministic(lambda p, t: stx.ops.contrastive_loss(p, t, 0.3), [pred, target], gpu, grad_inputs=[0, 1])

"""label_pool on CUDA against the CPU kernel: random masks, adversarial masks (all background, one
label everywhere, labels that never occur, many labels, negative ignore_index), layouts and dtypes,
gradients; the kernel is deterministic by construction (sorted segments), so runs are bit-identical."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic

pytestmark = pytest.mark.cuda


def case(K=50, B=2, G=19, H=41, W=37, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(B, G, H, W, generator=gen, dtype=torch.float64).to(dtype)
    labels = torch.randint(0, K, (B, H, W), generator=gen)
    return dense, labels, K


def lp(K, reduce, ignore_index):
    return lambda d, lab: stx.ops.label_pool(d, lab, K, reduce, ignore_index, return_count=True)


@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("ignore_index", [0, -1, 7, 1000])
@pytest.mark.parametrize("label_dtype", [torch.int32, torch.int64])
def test_random_masks_agree(gpu, reduce, ignore_index, label_dtype):
    dense, labels, K = case()
    labels = labels.to(label_dtype)
    if ignore_index < 0:
        labels[0, :5] = ignore_index
    assert_agree(lp(K, reduce, ignore_index), [dense, labels], gpu, grad_inputs=[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("mask", ["background", "one_label", "sparse_labels", "many_labels"])
def test_adversarial_masks_agree(gpu, mask):
    dense, labels, K = case()
    if mask == "background":
        labels.zero_()
    elif mask == "one_label":
        labels.fill_(3)
    elif mask == "sparse_labels":  # most labels never occur
        K = 5000
        labels = labels * 97
    else:  # every pixel its own label
        K = labels.numel() // labels.shape[0] + 1
        labels = torch.arange(1, K, dtype=torch.int64).view(1, *labels.shape[1:]).repeat(labels.shape[0], 1, 1)
    for reduce in ("sum", "mean"):
        assert_agree(lp(K, reduce, 0), [dense, labels], gpu, grad_inputs=[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_reduced_precision_agrees(gpu, dtype):
    dense, labels, K = case(dtype=dtype)
    tol = {torch.float32: 1e-5, torch.bfloat16: 1e-2, torch.float16: 2e-3}[dtype]
    assert_agree(lp(K, "mean", 0), [dense, labels], gpu, grad_inputs=[0], rtol=tol, atol=tol)


def test_layouts_and_empty_inputs_agree(gpu):
    dense, labels, K = case()
    expected = stx.ops.label_pool(dense, labels, K, "mean", 0)
    cl = dense.to(gpu).contiguous(memory_format=torch.channels_last)
    torch.testing.assert_close(stx.ops.label_pool(cl, labels.to(gpu), K, "mean", 0).cpu(), expected,
                               rtol=1e-10, atol=1e-10)
    assert_agree(lp(K, "sum", 0), [dense[:, :, :0], labels[:, :0]], gpu)  # H = 0
    assert_agree(lp(K, "sum", 0), [dense[:, :0], labels], gpu)  # G = 0
    assert_agree(lp(0, "mean", 0), [dense, torch.zeros_like(labels)], gpu)  # no labels at all


def test_runs_are_bit_identical(gpu):
    dense, labels, K = case(dtype=torch.float32, G=64, H=96, W=96, K=300)
    for reduce in ("sum", "mean"):
        assert_deterministic(lp(K, reduce, 0), [dense, labels], gpu, grad_inputs=[0])

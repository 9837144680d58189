"""label_pool against a NumPy reference (np.add.at over the label mask)."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import devices

import stx


def ref_label_pool(dense, labels, K, reduce, ignore_index):
    x = dense.detach().double().cpu().numpy()
    lab = labels.cpu().numpy().astype(np.int64)
    B, G = x.shape[:2]
    out = np.zeros((B, K, G))
    count = np.zeros((B, K), dtype=np.int64)
    for b in range(B):
        keep = lab[b] != ignore_index
        ls = lab[b][keep]
        np.add.at(out[b], ls, x[b][:, keep].T)
        np.add.at(count[b], ls, 1)
    if reduce == "mean":
        out = np.where(count[..., None] > 0, out / np.maximum(count, 1)[..., None], 0.0)
    return torch.from_numpy(out), torch.from_numpy(count)


def make_case(device, dtype=torch.float64, label_dtype=torch.int64, B=2, G=5, H=9, W=11, K=7, seed=0):
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(B, G, H, W, dtype=torch.float64, generator=gen).to(dtype).to(device)
    labels = torch.randint(0, K, (B, H, W), generator=gen).to(label_dtype).to(device)
    labels[0, :2] = 0  # a background band
    labels[labels == K - 1] = 0  # label K-1 never occurs: an empty label
    return dense, labels, K


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("label_dtype", [torch.int32, torch.int64])
@pytest.mark.parametrize("ignore_index", [0, -1, 3, 99])
def test_matches_reference(device, reduce, label_dtype, ignore_index):
    dense, labels, K = make_case(device, label_dtype=label_dtype)
    if ignore_index < 0:
        labels[1, 0, :3] = ignore_index
    out, count = stx.ops.label_pool(dense, labels, K, reduce, ignore_index, return_count=True)
    ref_out, ref_count = ref_label_pool(dense, labels, K, reduce, ignore_index)
    assert out.shape == (2, K, 5) and count.dtype == torch.int64
    torch.testing.assert_close(out.cpu(), ref_out, rtol=1e-10, atol=1e-10)
    assert torch.equal(count.cpu(), ref_count)
    assert torch.equal(out[:, K - 1].cpu(), torch.zeros(2, 5, dtype=torch.float64))  # empty label -> 0


@pytest.mark.parametrize("device", devices())
def test_layouts_and_many_labels(device):
    dense, labels, _ = make_case(device, G=70, H=32, W=33, K=2)
    K = 400
    labels = torch.randint(0, K, labels.shape, generator=torch.Generator().manual_seed(3)).to(device)
    expected = ref_label_pool(dense, labels, K, "mean", 0)[0]
    cl = dense.contiguous(memory_format=torch.channels_last)
    strided = torch.empty(2, 70, 32, 66, dtype=torch.float64, device=device)[..., ::2].copy_(dense)
    for x in (dense, cl, strided):
        torch.testing.assert_close(stx.ops.label_pool(x, labels, K, "mean").cpu(), expected, rtol=1e-10, atol=1e-10)
    torch.testing.assert_close(stx.ops.label_pool(dense, labels.transpose(1, 2).contiguous().transpose(1, 2), K).cpu(),
                               ref_label_pool(dense, labels, K, "sum", 0)[0], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_reduced_precision(device, dtype):
    dense, labels, K = make_case(device, dtype=dtype, H=40, W=40)
    out = stx.ops.label_pool(dense, labels, K, "sum")
    assert out.dtype == dtype
    ref = ref_label_pool(dense.double(), labels, K, "sum", 0)[0]
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(out.double().cpu(), ref, rtol=2 * eps, atol=1e-3)


@pytest.mark.parametrize("device", devices())
def test_empty_inputs(device):
    dense, labels, _ = make_case(device)
    zero_labels = torch.zeros_like(labels)
    out, count = stx.ops.label_pool(dense, zero_labels, 0, return_count=True)  # all background, K = 0
    assert out.shape == (2, 0, 5) and count.shape == (2, 0)
    empty = torch.zeros(2, 5, 0, 4, dtype=torch.float64, device=device)
    out = stx.ops.label_pool(empty, torch.zeros(2, 0, 4, dtype=torch.int64, device=device), 3, "mean")
    assert torch.equal(out.cpu(), torch.zeros(2, 3, 5, dtype=torch.float64))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_gradcheck_and_adjoint(device, reduce):
    dense, labels, K = make_case(device, G=3, H=5, W=6)
    dense.requires_grad_(True)
    fn = lambda d: torch.ops.stx.label_pool(d, labels, K, reduce, 0)[0]  # noqa: E731
    assert torch.autograd.gradcheck(fn, (dense,))
    assert torch.autograd.gradgradcheck(fn, (dense,))
    out, count = torch.ops.stx.label_pool(dense, labels, K, reduce, 0)
    assert not count.requires_grad
    v = torch.randn_like(out)
    unpooled = torch.ops.stx._label_pool_backward(v, labels, count, reduce, 0)
    torch.testing.assert_close((out * v).sum(), (dense * unpooled).sum(), rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("reduce", ["sum", "mean"])
@pytest.mark.parametrize("ignore_index", [0, -1, 3, 99])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32, torch.bfloat16])
def test_backward_is_the_adjoint_with_ignored_labels(device, reduce, ignore_index, dtype):
    # G = 13: one full 8-channel block of the CPU backward and a partial one.
    dense, labels, K = make_case(device, G=13, H=9, W=11)
    labels[0, 2, :5] = ignore_index if ignore_index >= 0 else -1
    out, count = torch.ops.stx.label_pool(dense, labels, K, reduce, ignore_index)
    v = torch.randn(out.shape, dtype=out.dtype, generator=torch.Generator().manual_seed(1)).to(device).to(dtype)
    unpooled = torch.ops.stx._label_pool_backward(v, labels, count, reduce, ignore_index)
    assert unpooled.dtype == dtype
    assert torch.equal(unpooled.transpose(0, 1)[:, labels == ignore_index].cpu(),
                       torch.zeros(13, int((labels == ignore_index).sum()), dtype=dtype))
    # <out, v> = <dense, unpooled>, up to the rounding of unpooled to dtype (relative to the terms).
    tol = 1e-12 if dtype == torch.float64 else 1e-2
    terms = (out.abs() * v.double().abs()).sum()
    assert abs((out * v.double()).sum() - (dense * unpooled.double()).sum()) <= tol * terms


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    dense, labels, K = make_case(device, G=3, H=5, W=6)
    for reduce in ("sum", "mean"):
        torch.library.opcheck(torch.ops.stx.label_pool.default, (dense.clone().requires_grad_(True), labels, K, reduce, 0))
        count = torch.ops.stx.label_pool(dense, labels, K, reduce, 0)[1]
        grad = torch.randn(2, K, 3, dtype=torch.float64, device=device, requires_grad=True)
        torch.library.opcheck(torch.ops.stx._label_pool_backward.default, (grad, labels, count, reduce, 0))


def test_torch_compile_fullgraph():
    dense, labels, K = make_case("cpu", dtype=torch.float32)

    def fn(d, lab):
        out, count = torch.ops.stx.label_pool(d, lab, K, "mean", 0)
        return out.square().sum() + count.sum()

    compiled = torch.compile(fn, fullgraph=True, backend="aot_eager")
    d1, d2 = dense.clone().requires_grad_(True), dense.clone().requires_grad_(True)
    e, c = fn(d1, labels), compiled(d2, labels)
    torch.testing.assert_close(c, e)
    e.backward()
    c.backward()
    torch.testing.assert_close(d2.grad, d1.grad)


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d, lab, K: (d[0], lab, K), "dense"),
        (lambda d, lab, K: (d.long(), lab, K), "dense"),
        (lambda d, lab, K: (d, lab.float(), K), "labels"),  # wrong dtype
        (lambda d, lab, K: (d, lab[0], K), "labels"),  # wrong rank
        (lambda d, lab, K: (d, lab[:, 1:], K), "labels"),  # wrong shape
        (lambda d, lab, K: (d, lab, K - 2), "labels"),  # value >= num_labels
        (lambda d, lab, K: (d, lab.index_fill(1, torch.tensor([0]), -2), K), "labels"),  # negative value
        (lambda d, lab, K: (d, lab, -1), "num_labels"),
    ],
)
def test_bad_input(make, match):
    dense, labels, K = make_case("cpu")
    with pytest.raises(RuntimeError, match=match):
        torch.ops.stx.label_pool(*make(dense, labels, K), "sum", 0)
    with pytest.raises(RuntimeError, match="reduce"):
        torch.ops.stx.label_pool(dense, labels, K, "max", 0)


@pytest.mark.cuda
def test_mismatched_devices():
    dense, labels, K = make_case("cpu")
    with pytest.raises(RuntimeError, match="labels"):
        torch.ops.stx.label_pool(dense.cuda(), labels, K, "sum", 0)


@pytest.mark.parametrize("inference", [False, True])
@pytest.mark.parametrize("label_dtype", [torch.int64, torch.int32])
def test_backward_rejects_labels_outside_the_grad(inference, label_dtype):
    # The crash input: labels index rows of grad [B, K, G], so a label outside [0, K) that is not
    # ignore_index would read past it. inference_mode skips the autograd layer: the kernel checks.
    cnt = torch.zeros(1, 5, dtype=torch.long)
    cases = [
        (torch.randn(1, 5, 3), torch.full((1, 64, 64), 2**30), cnt, 0, 2**30),
        (torch.randn(1, 2, 3), torch.tensor([[[0, 1], [4, 1]]]), cnt[:, :2], 0, 4),
        (torch.randn(1, 5, 3), torch.tensor([[[0, 1], [-3, 1]]]), cnt, 0, -3),
        (torch.randn(1, 5, 3), torch.tensor([[[0, 5], [-1, 1]]]), cnt, -1, 5),
    ]
    with torch.inference_mode(inference):
        for grad, labels, count, ignore, bad in cases:
            with pytest.raises(RuntimeError, match=rf"_label_pool_backward: labels must lie in \[0, K.* = "
                                                   rf"{grad.shape[1]}\) or equal ignore_index = {ignore}, "
                                                   rf"found label {bad}"):
                torch.ops.stx._label_pool_backward(grad, labels.to(label_dtype), count, "sum", ignore)
        # In range, and ignore_index outside [0, K): fine, and ignored pixels get zero gradient.
        grad = torch.randn(1, 5, 3)
        out = torch.ops.stx._label_pool_backward(grad, torch.tensor([[[0, 4], [-1, 1]]], dtype=label_dtype), cnt,
                                                 "sum", -1)
        assert torch.equal(out[0, :, 1, 0], torch.zeros(3))
        assert torch.equal(out[0, :, 0, 1], grad[0, 4])

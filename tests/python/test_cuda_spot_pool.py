"""spot_pool / spot_splat on CUDA against the CPU kernels: random and adversarial spots (borders,
sub-pixel, r = 0, huge radii, fully outside the image, empty inputs), every shape and reduce,
multi-scale radii, layouts and dtypes, gradients both ways; the deterministic paths bit-identical
across runs. (The per-device reference/opcheck/gradcheck tests are in test_spot_pool.py.)"""
from __future__ import annotations

import math

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic
from test_spot_pool import REDUCES, SHAPES, adversarial_spots

pytestmark = pytest.mark.cuda

TOL = {torch.float64: (1e-10, 1e-10), torch.float32: (1e-4, 1e-3)}


def case(dtype=torch.float64, B=2, G=37, H=48, W=53, seed=0, huge=True):
    gen = torch.Generator().manual_seed(seed)
    dense = torch.randn(B, G, H, W, generator=gen, dtype=torch.float64).to(dtype)
    centers, radii = adversarial_spots(B, H, W, gen)
    if huge:  # a radius far beyond the image, and spots far outside it
        extra_c = torch.tensor([[0, H / 2, W / 2], [B - 1, -1e3, 5.0], [0, 7.0, 1e4]], dtype=torch.float64)
        centers = torch.cat([centers, extra_c])
        radii = torch.cat([radii, torch.tensor([500.0, 3.0, 50.0], dtype=torch.float64)])
    return dense, centers.to(dtype), radii.to(dtype)


def pool(shape, reduce):
    return lambda d, c, r: stx.ops.spot_pool(d, c, r, shape, reduce, 0.5, return_coverage=True)


def splat(B, H, W, shape, reduce):
    return lambda v, c, r: stx.ops.spot_splat(v, c, r, B, H, W, shape, reduce, 0.5)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_pool_forward_and_backward_agree(gpu, dtype, shape, reduce):
    dense, centers, radii = case(dtype)
    rtol, atol = TOL[dtype]
    assert_agree(pool(shape, reduce), [dense, centers, radii], gpu, grad_inputs=[0], rtol=rtol, atol=atol)


@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_splat_forward_and_backward_agree(gpu, dtype, shape, reduce):
    dense, centers, radii = case(dtype)
    B, G, H, W = dense.shape
    values = torch.randn(radii.shape[0], G, generator=torch.Generator().manual_seed(1), dtype=torch.float64).to(dtype)
    rtol, atol = TOL[dtype]
    assert_agree(splat(B, H, W, shape, reduce), [values, centers, radii], gpu, grad_inputs=[0], rtol=rtol, atol=atol)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_multiscale_agrees(gpu, shape, reduce):
    dense, centers, radii = case()
    multi = torch.stack([radii, radii * 0.5, radii * 1.7 + 0.3], 1)
    assert_agree(pool(shape, reduce), [dense, centers, multi], gpu, grad_inputs=[0], rtol=1e-10, atol=1e-10)
    B, G, H, W = dense.shape
    values = torch.randn(multi.shape[0], 3, G, generator=torch.Generator().manual_seed(2), dtype=torch.float64)
    assert_agree(splat(B, H, W, shape, reduce), [values, centers, multi], gpu, grad_inputs=[0], rtol=1e-10, atol=1e-10)


def test_visium_scale_grid_agrees(gpu):
    """A hexagonal Visium-like grid over a 256 x 256 map with 64 genes (many blocks per spot list)."""
    G, H, W, pitch, r = 64, 256, 256, 25.0, 6.875
    pts = [(y, x + (pitch / 2 if row % 2 else 0.0))
           for row, y in enumerate(torch.arange(pitch / 2, H, pitch * math.sqrt(3) / 2).tolist())
           for x in torch.arange(pitch / 2, W, pitch).tolist()]
    centers = torch.tensor(pts, dtype=torch.float32)
    radii = torch.full((centers.shape[0],), r)
    dense = torch.randn(1, G, H, W, generator=torch.Generator().manual_seed(3))
    for reduce in REDUCES:
        assert_agree(pool("disk", reduce), [dense, centers, radii], gpu, grad_inputs=[0], rtol=1e-4, atol=1e-3)


@pytest.mark.parametrize("layout", ["channels_last", "strided"])
def test_layouts_agree_with_contiguous_cpu(gpu, layout):
    dense, centers, radii = case(huge=False)
    expected = stx.ops.spot_pool(dense, centers, radii, "gaussian", "mean")
    d = dense.to(gpu)
    if layout == "channels_last":
        d = d.contiguous(memory_format=torch.channels_last)
    else:
        d = torch.zeros(*dense.shape[:3], 2 * dense.shape[3], dtype=dense.dtype, device=gpu)[..., ::2].copy_(d)
    got = stx.ops.spot_pool(d, centers.to(gpu), radii.to(gpu), "gaussian", "mean")
    torch.testing.assert_close(got.cpu(), expected, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_reduced_precision_agrees(gpu, dtype):
    """Both devices accumulate in float; the result differs at most by the final rounding."""
    dense, centers, radii = case(torch.float32, huge=False)
    rtol = 1e-2 if dtype == torch.bfloat16 else 2e-3
    assert_agree(pool("disk", "mean"), [dense.to(dtype), centers, radii], gpu, rtol=rtol, atol=rtol)


def test_empty_inputs_agree(gpu):
    dense, centers, radii = case(huge=False)
    none_c, none_r = centers[:0], radii[:0]
    assert_agree(pool("disk", "sum"), [dense, none_c, none_r], gpu)
    assert_agree(pool("square", "area"), [dense[:, :, :0], centers, radii], gpu)  # H = 0
    assert_agree(pool("disk", "mean"), [dense[:, :0], centers, radii], gpu)  # G = 0
    assert_agree(splat(2, 5, 0, "disk", "sum"), [torch.ones(radii.shape[0], 3, dtype=torch.float64), centers, radii], gpu)


@pytest.mark.parametrize("shape", SHAPES)
def test_deterministic_paths_are_bit_identical(gpu, shape):
    dense, centers, radii = case(torch.float32)
    B, G, H, W = dense.shape
    assert_deterministic(pool(shape, "mean"), [dense, centers, radii], gpu, grad_inputs=[0])
    values = torch.randn(radii.shape[0], G, generator=torch.Generator().manual_seed(4))
    assert_deterministic(splat(B, H, W, shape, "area"), [values, centers, radii], gpu, grad_inputs=[0])


def test_deterministic_splat_matches_the_atomic_path(gpu):
    dense, centers, radii = case(torch.float64)
    B, G, H, W = dense.shape
    values = torch.randn(radii.shape[0], G, generator=torch.Generator().manual_seed(5), dtype=torch.float64).to(gpu)
    c, r = centers.to(gpu), radii.to(gpu)
    fast = stx.ops.spot_splat(values, c, r, B, H, W, "disk", "sum")
    torch.use_deterministic_algorithms(True)
    try:
        exact = stx.ops.spot_splat(values, c, r, B, H, W, "disk", "sum")
    finally:
        torch.use_deterministic_algorithms(False)
    torch.testing.assert_close(fast, exact, rtol=1e-12, atol=1e-12)

"""spot_pool / spot_splat against a brute-force NumPy reference (a full mask per spot)."""
from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from conftest import devices

import stx

SHAPES = ["disk", "square", "gaussian"]
REDUCES = ["sum", "mean", "area"]


# ----------------------------------------------------------------------------------------------
# Reference: one full-image weight mask per spot, written from the documented conventions.
# ----------------------------------------------------------------------------------------------
def ref_weights(rows, cols, cy, cx, r, shape, sigma):
    ii, jj = np.meshgrid(rows.astype(np.float64), cols.astype(np.float64), indexing="ij")
    if shape == "square":
        return ((np.abs(ii - cy) <= r) & (np.abs(jj - cx) <= r)).astype(np.float64)
    d2 = np.square(ii - cy) + np.square(jj - cx)
    inside = d2 <= r * r
    if shape == "disk":
        return inside.astype(np.float64)
    s = sigma * r
    with np.errstate(divide="ignore", invalid="ignore"):
        w = np.where(d2 == 0, 1.0, np.exp(-d2 / (2 * s * s)))
    return np.where(inside, w, 0.0)


def ref_norm(H, W, cy, cx, r, shape, reduce, sigma, coverage):
    if reduce == "sum":
        return 1.0
    if reduce == "mean":
        denom = coverage
    else:  # area: the whole footprint, ignoring the image bounds
        pad = int(math.ceil(r)) + 2
        rows = np.arange(math.floor(cy) - pad, math.ceil(cy) + pad + 1)
        cols = np.arange(math.floor(cx) - pad, math.ceil(cx) + pad + 1)
        denom = ref_weights(rows, cols, cy, cx, r, shape, sigma).sum()
    return 1.0 / denom if denom > 0 else 0.0


def spot_list(centers, radii):
    c = centers.detach().double().cpu().numpy()
    r = radii.detach().double().cpu().numpy().reshape(c.shape[0], -1)
    for n in range(c.shape[0]):
        b = int(c[n, 0]) if c.shape[1] == 3 else 0
        yield n, b, c[n, -2], c[n, -1], r[n]


def ref_pool(dense, centers, radii, shape, reduce, sigma=0.5):
    x = dense.detach().double().cpu().numpy()
    _, G, H, W = x.shape
    rows, cols = np.arange(H), np.arange(W)
    N = centers.shape[0]
    S = 1 if radii.dim() == 1 else radii.shape[1]
    out = np.zeros((N, S, G))
    cov = np.zeros((N, S))
    for n, b, cy, cx, rs in spot_list(centers, radii):
        for s, r in enumerate(rs):
            w = ref_weights(rows, cols, cy, cx, r, shape, sigma)
            cov[n, s] = w.sum()
            out[n, s] = np.einsum("ghw,hw->g", x[b], w) * ref_norm(H, W, cy, cx, r, shape, reduce, sigma, cov[n, s])
    if radii.dim() == 1:
        out, cov = out[:, 0], cov[:, 0]
    return torch.from_numpy(out), torch.from_numpy(cov)


def ref_splat(values, centers, radii, B, H, W, shape, reduce, sigma=0.5):
    v = values.detach().double().cpu().numpy().reshape(centers.shape[0], -1, values.shape[-1])
    rows, cols = np.arange(H), np.arange(W)
    out = np.zeros((B, v.shape[-1], H, W))
    for n, b, cy, cx, rs in spot_list(centers, radii):
        for s, r in enumerate(rs):
            w = ref_weights(rows, cols, cy, cx, r, shape, sigma)
            norm = ref_norm(H, W, cy, cx, r, shape, reduce, sigma, w.sum())
            out[b] += norm * v[n, s][:, None, None] * w[None]
    return torch.from_numpy(out)


# ----------------------------------------------------------------------------------------------
# Geometry: random spots plus the adversarial cases of the issue.
# ----------------------------------------------------------------------------------------------
def adversarial_spots(B, H, W, gen):
    """[N, 3] centers and [N] radii: random, borders, sub-pixel, r < 0.5, huge, overlapping, outside."""
    n_random = 12
    rows = [
        torch.stack([torch.randint(0, B, (n_random,), generator=gen).double(),
                     torch.rand(n_random, generator=gen, dtype=torch.float64) * (H + 4) - 2,
                     torch.rand(n_random, generator=gen, dtype=torch.float64) * (W + 4) - 2], 1)
    ]
    radii = [torch.rand(n_random, generator=gen, dtype=torch.float64) * 5]
    special = [
        # (b, y, x, r)
        (0, 0.0, 0.0, 3.0),  # corner
        (B - 1, H - 1, W - 1, 2.5),  # opposite corner
        (0, 3.5, 4.5, 1.0),  # half-pixel centre: exact ties on the boundary
        (0, 2.0, 3.0, 1.0),  # integer centre, integer radius: boundary pixels exactly at distance r
        (0, 5.25, 2.75, 0.3),  # r < 0.5, no pixel centre inside
        (0, 4.0, 4.0, 0.0),  # r = 0 on a pixel centre: exactly one pixel
        (0, 4.1, 4.0, 0.4),  # r < 0.5 covering one pixel
        (B - 1, H / 2, W / 2, 40.0),  # huge radius covers the whole image
        (0, 3.0, 3.0, 2.0),  # overlaps the next one
        (0, 3.5, 3.5, 2.0),
        (0, -20.0, 5.0, 3.0),  # fully outside: empty
        (B - 1, 3.0, W + 0.6, 1.0),  # just outside the right border: partly covered for r >= 0.6
        (0, H - 1 + 1e-9, W / 3, 2.2),  # sub-pixel jitter near the border
    ]
    rows.append(torch.tensor([s[:3] for s in special], dtype=torch.float64))
    radii.append(torch.tensor([s[3] for s in special], dtype=torch.float64))
    return torch.cat(rows), torch.cat(radii)


@pytest.fixture
def gen():
    return torch.Generator().manual_seed(1234)


def assert_close64(actual, expected):
    torch.testing.assert_close(actual.double().cpu(), expected.double().cpu(), rtol=1e-10, atol=1e-10)


# ----------------------------------------------------------------------------------------------
# Forward agreement
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_pool_matches_reference(device, shape, reduce, gen):
    B, G, H, W = 2, 3, 11, 13
    dense = torch.randn(B, G, H, W, dtype=torch.float64, generator=gen)
    centers, radii = adversarial_spots(B, H, W, gen)
    out, cov = stx.ops.spot_pool(dense.to(device), centers.to(device), radii.to(device), shape, reduce,
                                 return_coverage=True)
    ref_out, ref_cov = ref_pool(dense, centers, radii, shape, reduce)
    assert out.shape == (centers.shape[0], G) and cov.shape == (centers.shape[0],)
    assert out.device.type == device and cov.dtype == torch.float64
    assert_close64(out, ref_out)
    assert_close64(cov, ref_cov)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_multiscale_matches_reference(device, shape, reduce, gen):
    B, G, H, W = 2, 4, 12, 10
    dense = torch.randn(B, G, H, W, dtype=torch.float64, generator=gen)
    centers, radii = adversarial_spots(B, H, W, gen)
    # Unsorted scales, repeated scales and a zero scale: nesting must not depend on the order.
    multi = torch.stack([radii, radii * 0.5, radii + 1.3, radii * 0.5, torch.zeros_like(radii)], 1)
    out, cov = stx.ops.spot_pool(dense.to(device), centers.to(device), multi.to(device), shape, reduce,
                                 return_coverage=True)
    ref_out, ref_cov = ref_pool(dense, centers, multi, shape, reduce)
    assert out.shape == (centers.shape[0], 5, G)
    assert_close64(out, ref_out)
    assert_close64(cov, ref_cov)


@pytest.mark.parametrize("device", devices())
def test_two_column_centers_mean_batch_zero(device, gen):
    dense = torch.randn(1, 2, 9, 9, dtype=torch.float64, generator=gen, device=device)
    c3 = torch.tensor([[0, 4.0, 4.0], [0, 1.5, 7.2]], dtype=torch.float64, device=device)
    r = torch.tensor([2.0, 3.1], dtype=torch.float64, device=device)
    torch.testing.assert_close(stx.ops.spot_pool(dense, c3[:, 1:], r), stx.ops.spot_pool(dense, c3, r), rtol=0, atol=0)


@pytest.mark.parametrize("device", devices())
def test_empty_spot_policy(device):
    dense = torch.ones(1, 2, 6, 6, dtype=torch.float64, device=device)
    centers = torch.tensor([[-10.0, -10.0], [2.5, 2.5], [2.3, 2.7]], dtype=torch.float64, device=device)
    radii = torch.tensor([2.0, 0.4, 1.0], dtype=torch.float64, device=device)
    for reduce in REDUCES:
        out, cov = stx.ops.spot_pool(dense, centers, radii, reduce=reduce, return_coverage=True)
        assert torch.equal(cov[:2].cpu(), torch.zeros(2, dtype=torch.float64))  # outside / between pixel centres
        assert torch.equal(out[:2].cpu(), torch.zeros(2, 2, dtype=torch.float64))
        assert not torch.isnan(out).any()
    # Area normalisation: a spot half outside the image averages over its whole footprint.
    out, cov = stx.ops.spot_pool(dense, torch.tensor([[0.0, 2.0]], dtype=torch.float64, device=device),
                                 torch.tensor([1.0], dtype=torch.float64, device=device), reduce="area",
                                 return_coverage=True)
    assert cov.item() == 4.0  # 5-pixel plus sign, one pixel above the image
    torch.testing.assert_close(out.cpu(), torch.full((1, 2), 4.0 / 5.0, dtype=torch.float64))


@pytest.mark.parametrize("device", devices())
def test_empty_inputs(device):
    dense = torch.randn(2, 3, 5, 5, dtype=torch.float64, device=device)
    none = torch.zeros(0, 3, dtype=torch.float64, device=device)
    out, cov = stx.ops.spot_pool(dense, none, torch.zeros(0, dtype=torch.float64, device=device), return_coverage=True)
    assert out.shape == (0, 3) and cov.shape == (0,)
    # A zero-size image: every spot is empty.
    flat = torch.randn(1, 3, 0, 7, dtype=torch.float64, device=device)
    c = torch.tensor([[0.0, 1.0]], dtype=torch.float64, device=device)
    r = torch.tensor([3.0], dtype=torch.float64, device=device)
    out, cov = stx.ops.spot_pool(flat, c, r, reduce="mean", return_coverage=True)
    assert torch.equal(out.cpu(), torch.zeros(1, 3, dtype=torch.float64)) and cov.item() == 0
    assert stx.ops.spot_splat(torch.ones(1, 3, dtype=torch.float64, device=device), c, r, 1, 0, 7).shape == (1, 3, 0, 7)
    # An all-zero image pools to zeros.
    out = stx.ops.spot_pool(torch.zeros(1, 2, 8, 8, device=device), c.float(), r.float(), reduce="mean")
    assert torch.equal(out.cpu(), torch.zeros(1, 2))


# ----------------------------------------------------------------------------------------------
# Splat: reference and adjointness
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_splat_matches_reference(device, shape, reduce, gen):
    B, G, H, W = 2, 3, 10, 12
    centers, radii = adversarial_spots(B, H, W, gen)
    multi = torch.stack([radii, radii * 0.3 + 0.2], 1)
    for r in (radii, multi):
        values = torch.randn(*r.shape, G, dtype=torch.float64, generator=gen)
        out = stx.ops.spot_splat(values.to(device), centers.to(device), r.to(device), B, H, W, shape, reduce)
        assert out.shape == (B, G, H, W) and out.is_contiguous()
        assert_close64(out, ref_splat(values, centers, r, B, H, W, shape, reduce))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_splat_is_adjoint_of_pool(device, shape, reduce, gen):
    B, G, H, W = 2, 5, 14, 9
    centers, radii = adversarial_spots(B, H, W, gen)
    multi = torch.stack([radii * 1.5, radii, radii * 0.2], 1)
    x = torch.randn(B, G, H, W, dtype=torch.float64, generator=gen).to(device)
    for r in (radii, multi):
        v = torch.randn(*r.shape, G, dtype=torch.float64, generator=gen).to(device)
        lhs = (stx.ops.spot_pool(x, centers.to(device), r.to(device), shape, reduce) * v).sum()
        rhs = (x * stx.ops.spot_splat(v, centers.to(device), r.to(device), B, H, W, shape, reduce)).sum()
        torch.testing.assert_close(lhs, rhs, rtol=1e-12, atol=1e-12)


# ----------------------------------------------------------------------------------------------
# Layouts and dtypes
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
def test_channels_last_and_strided_inputs(device, shape, gen):
    B, G, H, W = 2, 70, 13, 11  # G > one channel block of the channels-last kernel
    dense = torch.randn(B, G, H, W, dtype=torch.float64, generator=gen).to(device)
    centers, radii = adversarial_spots(B, H, W, gen)
    centers, radii = centers.to(device), radii.to(device)
    multi = torch.stack([radii, radii * 0.5], 1)
    for r in (radii, multi):
        expected = stx.ops.spot_pool(dense, centers, r, shape, "mean")
        cl = dense.contiguous(memory_format=torch.channels_last)
        torch.testing.assert_close(stx.ops.spot_pool(cl, centers, r, shape, "mean"), expected, rtol=1e-12, atol=1e-12)
        strided = torch.randn(B, G, H, 2 * W, dtype=torch.float64, device=device)[..., ::2]
        strided.copy_(dense)
        torch.testing.assert_close(stx.ops.spot_pool(strided, centers, r, shape, "mean"), expected, rtol=1e-12,
                                   atol=1e-12)
    # Non-contiguous centers / radii / values.
    c_strided = torch.cat([centers, centers], 1)[:, :3]
    torch.testing.assert_close(stx.ops.spot_pool(dense, c_strided, multi[:, 0]), stx.ops.spot_pool(dense, centers, radii))
    v = torch.randn(G, radii.shape[0], dtype=torch.float64, device=device).t()
    torch.testing.assert_close(stx.ops.spot_splat(v, centers, radii, B, H, W, shape),
                               stx.ops.spot_splat(v.contiguous(), centers, radii, B, H, W, shape))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("channels_last", [False, True])
def test_reduced_precision(device, dtype, channels_last, gen):
    B, G, H, W = 1, 9, 40, 40
    dense64 = torch.rand(B, G, H, W, dtype=torch.float64, generator=gen)
    dense = dense64.to(dtype)
    centers = torch.tensor([[20.0, 20.0], [5.5, 33.2], [39.0, 0.0]], dtype=torch.float64)
    radii = torch.tensor([18.0, 6.5, 9.0], dtype=torch.float64)
    x = dense.to(device)
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    out, cov = stx.ops.spot_pool(x, centers.to(device), radii.to(device), return_coverage=True)
    assert out.dtype == dtype and cov.dtype == torch.float32
    ref_out, ref_cov = ref_pool(dense.double(), centers, radii, "disk", "sum")
    # Accumulation in float32: only the final rounding to the storage dtype remains.
    eps = torch.finfo(dtype).eps
    torch.testing.assert_close(out.double().cpu(), ref_out, rtol=2 * eps, atol=1e-3)
    assert torch.equal(cov.cpu(), ref_cov.float())  # exact pixel counts (1000+ pixels)
    values = torch.rand(3, G, dtype=torch.float64, generator=gen)
    splat = stx.ops.spot_splat(values.to(dtype).to(device), centers.to(device), radii.to(device), B, H, W)
    ref = ref_splat(values.to(dtype).double(), centers, radii, B, H, W, "disk", "sum")
    assert splat.dtype == dtype
    torch.testing.assert_close(splat.double().cpu(), ref, rtol=2 * eps, atol=1e-6)


def test_float32_centers_with_float64_map(gen):
    dense = torch.randn(1, 2, 8, 8, dtype=torch.float64, generator=gen)
    c = torch.tensor([[3.3, 4.1]], dtype=torch.float32)
    r = torch.tensor([2.2], dtype=torch.float32)
    assert_close64(stx.ops.spot_pool(dense, c, r), ref_pool(dense, c.double(), r.double(), "disk", "sum")[0])


# ----------------------------------------------------------------------------------------------
# Autograd, opcheck, torch.compile, TorchScript
# ----------------------------------------------------------------------------------------------
def small_case(device, dtype=torch.float64, multi=False):
    gen = torch.Generator().manual_seed(7)
    dense = torch.randn(2, 3, 7, 8, dtype=dtype, generator=gen).to(device)
    centers = torch.tensor([[0, 3.2, 3.9], [1, 0.5, 6.0], [0, 5.0, 1.0], [1, 3.5, 3.5]], dtype=dtype, device=device)
    radii = torch.tensor([2.3, 1.7, 0.9, 4.0], dtype=dtype, device=device)
    if multi:
        radii = torch.stack([radii, radii * 0.5], 1)
    return dense, centers, radii


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("reduce", REDUCES)
def test_gradcheck(device, shape, reduce):
    dense, centers, radii = small_case(device, multi=True)
    dense.requires_grad_(True)
    pool = lambda d: torch.ops.stx.spot_pool(d, centers, radii, shape, reduce, 0.5)[0]  # noqa: E731
    assert torch.autograd.gradcheck(pool, (dense,))
    values = torch.randn(4, 2, 3, dtype=torch.float64, device=device, requires_grad=True)
    splat = lambda v: torch.ops.stx.spot_splat(v, centers, radii, 2, 7, 8, shape, reduce, 0.5)  # noqa: E731
    assert torch.autograd.gradcheck(splat, (values,))
    # Each op's backward is the other op, so double backward works.
    assert torch.autograd.gradgradcheck(pool, (dense,))
    assert torch.autograd.gradgradcheck(splat, (values,))


@pytest.mark.parametrize("device", devices())
def test_backward_is_splat_and_no_grad_for_geometry(device):
    dense, centers, radii = small_case(device)
    dense.requires_grad_(True)
    centers.requires_grad_(True)
    out, cov = stx.ops.spot_pool(dense, centers, radii, "gaussian", "mean", return_coverage=True)
    assert not cov.requires_grad
    g = torch.randn_like(out)
    (out * g).sum().backward()
    expected = stx.ops.spot_splat(g, centers.detach(), radii, 2, 7, 8, "gaussian", "mean")
    torch.testing.assert_close(dense.grad, expected, rtol=0, atol=0)
    assert centers.grad is None


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("multi", [False, True])
def test_opcheck(device, multi):
    dense, centers, radii = small_case(device, multi=multi)
    for shape, reduce in [("disk", "sum"), ("gaussian", "area"), ("square", "mean")]:
        torch.library.opcheck(torch.ops.stx.spot_pool.default,
                              (dense.clone().requires_grad_(True), centers, radii, shape, reduce, 0.5))
        values = torch.randn(*radii.shape, 3, dtype=torch.float64, device=device, requires_grad=True)
        torch.library.opcheck(torch.ops.stx.spot_splat.default, (values, centers, radii, 2, 7, 8, shape, reduce, 0.5))


def test_torch_compile_fullgraph():
    dense, centers, radii = small_case("cpu", dtype=torch.float32, multi=True)

    def loss_fn(d, c, r):
        pooled, cov = torch.ops.stx.spot_pool(d, c, r, "disk", "mean", 0.5)
        painted = torch.ops.stx.spot_splat(pooled, c, r, d.shape[0], d.shape[2], d.shape[3], "disk", "mean", 0.5)
        return pooled.square().sum() + (painted * d).sum() + cov.sum()

    compiled = torch.compile(loss_fn, fullgraph=True, backend="aot_eager")
    d1 = dense.clone().requires_grad_(True)
    d2 = dense.clone().requires_grad_(True)
    eager, comp = loss_fn(d1, centers, radii), compiled(d2, centers, radii)
    torch.testing.assert_close(comp, eager)
    eager.backward()
    comp.backward()
    torch.testing.assert_close(d2.grad, d1.grad)


def test_torchscript():
    @torch.jit.script
    def pooled_mean(d: torch.Tensor, c: torch.Tensor, r: torch.Tensor) -> torch.Tensor:
        out, cov = torch.ops.stx.spot_pool(d, c, r, "disk", "mean", 0.5)
        return out + torch.ops.stx.spot_splat(out, c, r, 1, 6, 6, "disk", "sum", 0.5).sum() * 0.0 + cov[:, None] * 0.0

    d = torch.randn(1, 2, 6, 6, dtype=torch.float64)
    c = torch.tensor([[2.0, 3.0]], dtype=torch.float64)
    r = torch.tensor([1.5], dtype=torch.float64)
    assert_close64(pooled_mean(d, c, r), ref_pool(d, c, r, "disk", "mean")[0])


# ----------------------------------------------------------------------------------------------
# Bad input: a clear error that names the argument
# ----------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "make, match",
    [
        (lambda d, c, r: (d[0], c, r), "dense"),  # wrong rank
        (lambda d, c, r: (d.long(), c, r), "dense"),  # not a float map
        (lambda d, c, r: (d, c[:, :1], r), "centers"),  # centers not [N, 2] / [N, 3]
        (lambda d, c, r: (d, c[0], r), "centers"),
        (lambda d, c, r: (d, c.long(), r), "centers"),
        (lambda d, c, r: (d, c, -r), "radii"),  # negative radius
        (lambda d, c, r: (d, c, torch.where(r > 2, float("nan"), r)), "radii"),  # NaN radius
        (lambda d, c, r: (d, c, r.fill_(float("inf"))), "radii"),
        (lambda d, c, r: (d, c, r[:2]), "radii"),  # one radius per spot
        (lambda d, c, r: (d, c, r[:, None, None]), "radii"),
        (lambda d, c, r: (d, torch.cat([c[:, :1] + 2, c[:, 1:]], 1), r), "batch index"),  # out of range
        (lambda d, c, r: (d, torch.cat([c[:, :1] + 0.5, c[:, 1:]], 1), r), "batch index"),  # not integral
        (lambda d, c, r: (d, c.index_fill(1, torch.tensor([1]), float("nan")), r), "centers"),  # NaN centre
    ],
)
def test_bad_input(make, match):
    dense, centers, radii = small_case("cpu")
    with pytest.raises(RuntimeError, match=match):
        torch.ops.stx.spot_pool(*make(dense, centers, radii))


def test_bad_modes_and_splat_arguments():
    dense, centers, radii = small_case("cpu")
    with pytest.raises(RuntimeError, match="shape"):
        stx.ops.spot_pool(dense, centers, radii, shape="hexagon")
    with pytest.raises(RuntimeError, match="reduce"):
        stx.ops.spot_pool(dense, centers, radii, reduce="max")
    with pytest.raises(RuntimeError, match="sigma"):
        stx.ops.spot_pool(dense, centers, radii, shape="gaussian", sigma=0.0)
    values = torch.randn(4, 3, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="values"):
        stx.ops.spot_splat(values[:3], centers, radii, 2, 7, 8)
    with pytest.raises(RuntimeError, match="values"):
        stx.ops.spot_splat(values.long(), centers, radii, 2, 7, 8)
    with pytest.raises(RuntimeError, match="batch index"):
        stx.ops.spot_splat(values, centers, radii, 1, 7, 8)  # spots of image 1 in a batch of 1
    with pytest.raises(RuntimeError, match="height and width"):
        stx.ops.spot_splat(values, centers, radii, 2, -1, 8)
    no_spots = (values[:0], centers[:0], radii[:0])
    assert stx.ops.spot_splat(*no_spots, 0, 7, 8).shape == (0, 3, 7, 8)
    for where in ("cpu", "meta"):  # a negative batch with no spots (the op fuzzer's case): named, on both
        with pytest.raises(RuntimeError, match="batch_size must be in|batch size .* must be in"):
            stx.ops.spot_splat(*(t.to(where) for t in no_spots), -1, 7, 8)
    with pytest.raises(RuntimeError, match="must be in \\[1, 2\\^31\\)"):  # before any per-image allocation
        stx.ops.spot_splat(values, centers, radii, 2**31, 7, 8)


@pytest.mark.cuda
def test_mismatched_devices():
    dense, centers, radii = small_case("cpu")
    with pytest.raises(RuntimeError, match="centers"):
        stx.ops.spot_pool(dense.cuda(), centers, radii.cuda())
    with pytest.raises(RuntimeError, match="radii"):
        stx.ops.spot_pool(dense.cuda(), centers.cuda(), radii)


@pytest.mark.cuda
def test_cuda_deterministic_splat_matches_atomic():
    dense, centers, radii = small_case("cuda", multi=True)
    values = torch.randn(4, 2, 64, dtype=torch.float64, device="cuda")
    fast = stx.ops.spot_splat(values, centers, radii, 2, 7, 8, "gaussian", "mean")
    torch.use_deterministic_algorithms(True)
    try:
        a = stx.ops.spot_splat(values, centers, radii, 2, 7, 8, "gaussian", "mean")
        b = stx.ops.spot_splat(values, centers, radii, 2, 7, 8, "gaussian", "mean")
    finally:
        torch.use_deterministic_algorithms(False)
    assert torch.equal(a, b)
    torch.testing.assert_close(a, fast, rtol=1e-12, atol=1e-12)

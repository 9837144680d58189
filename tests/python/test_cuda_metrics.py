"""pearson_per_gene and morans_i on CUDA against the CPU kernels: random tables, constant genes (NaN),
both dims, float32, tied coordinates and empty radius neighbourhoods; results stay on the device."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic

pytestmark = pytest.mark.cuda


def table(n=500, g=30, seed=0, dtype=torch.float64):
    gen = torch.Generator().manual_seed(seed)
    x, y = torch.randn(n, g, generator=gen, dtype=torch.float64), torch.randn(n, g, generator=gen, dtype=torch.float64)
    y[:, 1] = 3 * x[:, 1] + 0.01 * y[:, 1]
    x[:, 4] = 1.5  # constant: NaN
    y[:, 5] = -2.0
    return x.to(dtype), y.to(dtype)


@pytest.mark.parametrize("dim", [0, 1])
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_pearson_per_gene_agrees(gpu, dim, dtype):
    x, y = table(dtype=dtype)
    if dim == 1:
        x, y = x.t().contiguous(), y.t().contiguous()
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    out, _ = assert_agree(lambda a, b: stx.ops.pearson_per_gene(a, b, dim), [x, y], gpu, rtol=tol, atol=tol)
    assert torch.isnan(out[0][4]) and torch.isnan(out[0][5]) and out[0][1] > 0.99


@pytest.mark.parametrize("weights,k,radius", [("knn", 6, 0.0), ("knn", 1, 0.0), ("radius", 6, 0.08), ("radius", 6, 0.01)])
def test_morans_i_agrees(gpu, weights, k, radius):
    gen = torch.Generator().manual_seed(1)
    coords = torch.rand(400, 2, generator=gen, dtype=torch.float64)
    coords[10:20] = coords[0]  # tied coordinates
    values = torch.randn(400, 12, generator=gen, dtype=torch.float64)
    values[:, 2] = 4.0  # constant gene: NaN
    values[:, 0] += torch.sin(6 * coords[:, 0])
    out, _ = assert_agree(lambda v, c: stx.ops.morans_i(v, c, weights, k, radius), [values, coords], gpu,
                          rtol=1e-10, atol=1e-12)
    assert torch.isnan(out[0][2])
    i, z = stx.ops.morans_i(values.to(gpu), coords.to(gpu), weights, k, radius)
    assert i.device.type == z.device.type == torch.device(gpu).type


def test_runs_are_bit_identical(gpu):
    x, y = table(n=5000, g=200, dtype=torch.float32)
    assert_deterministic(lambda a, b: stx.ops.pearson_per_gene(a, b, 0), [x, y], gpu)
    coords = torch.rand(5000, 2, generator=torch.Generator().manual_seed(2))
    assert_deterministic(lambda v, c: stx.ops.morans_i(v, c, "knn", 6, 0.0), [x[:, :20], coords], gpu)

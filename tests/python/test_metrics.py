"""pearson_per_gene against scipy.stats.pearsonr and morans_i against numpy/scipy re-implementations
of the published Moran's I and its normality variance (Cliff & Ord; PySAL esda's VI_norm)."""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.spatial import cKDTree
from scipy.stats import pearsonr

import stx
from conftest import devices


@pytest.mark.parametrize("device", devices())
def test_pearson_per_gene_matches_scipy(device):
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 6)), rng.normal(size=(40, 6))
    y[:, 1] = x[:, 1] * 2 + 0.1 * y[:, 1]
    x[:, 4] = 1.5  # constant gene -> NaN, as scipy
    r = stx.ops.pearson_per_gene(torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)).cpu().numpy()
    for g in range(6):
        if g == 4:
            assert math.isnan(r[g])
        else:
            assert r[g] == pytest.approx(pearsonr(x[:, g], y[:, g])[0], abs=1e-12)
    r_rows = stx.ops.pearson_per_gene(torch.from_numpy(x.T.copy()).to(device), torch.from_numpy(y.T.copy()).to(device),
                                      dim=1).cpu().numpy()
    np.testing.assert_allclose(r_rows, r, equal_nan=True)


@pytest.mark.parametrize("device", devices())
def test_pearson_per_gene_constant_inexact_mean_is_nan_like_scipy(device):
    # A constant float64 column whose mean sum/n is inexact (three 0.1s sum to 0.30000000000000004):
    # centring on the rounded mean left a ~1e-34 variance and r = +-1e-17. scipy gives NaN.
    rng = np.random.default_rng(3)
    values = [0.1, 0.7, 1 / 3, 2.2e-7, 123.456, -0.3, 1e300 / 7]
    for n in (3, 7, 10, 33, 100):
        x = np.empty((n, len(values)))
        x[:] = values
        y = rng.normal(size=x.shape)
        naive_means = [sum(x[:, g].tolist()) / n for g in range(len(values))]  # a sequential sum, as the kernel's
        assert any(m != v for m, v in zip(naive_means, values))  # some means are inexact
        for a, b in ((x, y), (y, x)):
            r = stx.ops.pearson_per_gene(torch.from_numpy(a).to(device), torch.from_numpy(b).to(device)).cpu()
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ref = [pearsonr(a[:, g], b[:, g])[0] for g in range(len(values))]
            assert np.isnan(ref).all()
            assert torch.isnan(r).all(), r
    # Only constant columns: a column varying in its last row is not constant.
    x = np.full((5, 2), 0.1)
    x[4, 1] = 0.1 + 1e-16
    r = stx.ops.pearson_per_gene(torch.from_numpy(x).to(device), torch.from_numpy(rng.normal(size=(5, 2))).to(device))
    assert math.isnan(r[0]) and not math.isnan(r[1])


def test_pcc_summary():
    pcc = torch.tensor([0.1, 0.5, float("nan"), 0.3, -0.2])
    s = stx.ops.pcc_summary(pcc)
    vals = np.array([0.1, 0.5, 0.3, -0.2])
    assert s["PCC@F"] == pytest.approx(np.quantile(vals, 0.25))
    assert s["PCC@S"] == pytest.approx(np.median(vals))
    assert s["PCC@M"] == pytest.approx(vals.mean())
    assert s["n_genes_above"] == 2


def ref_weights(coords, mode, k=6, radius=0.0):
    n = len(coords)
    tree = cKDTree(coords)
    w = np.zeros((n, n))
    if mode == "knn":
        _, idx = tree.query(coords, k=k + 1)
        for i in range(n):
            nb = [j for j in idx[i] if j != i][:k]
            w[i, nb] = 1.0
    else:
        for i, nb in enumerate(tree.query_ball_point(coords, radius)):
            nb = [j for j in nb if j != i]
            w[i, nb] = 1.0
    rows = w.sum(1, keepdims=True)
    return np.divide(w, rows, out=np.zeros_like(w), where=rows > 0)


def ref_morans_i(x, w):
    n = len(x)
    z = x - x.mean(0)
    s0 = w.sum()
    s1 = 0.5 * ((w + w.T) ** 2).sum()
    s2 = ((w.sum(1) + w.sum(0)) ** 2).sum()
    moran = n / s0 * np.einsum("ig,ij,jg->g", z, w, z) / (z * z).sum(0)
    ei = -1.0 / (n - 1)
    vi = (n * n * s1 - n * s2 + 3 * s0 * s0) / ((n * n - 1) * s0 * s0) - ei * ei
    return moran, (moran - ei) / np.sqrt(vi)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("mode,param", [("knn", 6), ("knn", 1), ("radius", 0.12), ("radius", 0.05)])
def test_morans_i_matches_reference(mode, param, device):
    rng = np.random.default_rng(1)
    coords = rng.uniform(size=(150, 2))
    smooth = np.sin(6 * coords[:, :1]) + np.cos(4 * coords[:, 1:])
    x = np.concatenate([smooth + 0.1 * rng.normal(size=(150, 1)), rng.normal(size=(150, 3))], axis=1)
    kw = {"k": param} if mode == "knn" else {"radius": param}
    w = ref_weights(coords, mode, **kw)
    ri, rz = ref_morans_i(x, w)
    I, z = stx.ops.morans_i(torch.from_numpy(x).to(device), torch.from_numpy(coords).to(device), mode, **kw)
    assert I.device.type == device and z.device.type == device
    I, z = I.cpu(), z.cpu()
    np.testing.assert_allclose(I.numpy(), ri, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(z.numpy(), rz, rtol=1e-10, atol=1e-12)
    assert I[0] > 0.5 and z[0] > 5  # the smooth gene is strongly autocorrelated


def test_morans_i_constant_gene_is_nan_and_float32_close():
    rng = np.random.default_rng(2)
    coords, x = rng.uniform(size=(60, 2)), rng.normal(size=(60, 3))
    x[:, 1] = 2.0
    I, z = stx.ops.morans_i(torch.from_numpy(x), torch.from_numpy(coords))
    assert math.isnan(I[1]) and math.isnan(z[1])
    x[:, 1] = 0.1  # constant with an inexact mean sum/n: still exactly zero variance
    assert x[:, 1].mean() != 0.1
    I, z = stx.ops.morans_i(torch.from_numpy(x), torch.from_numpy(coords))
    assert math.isnan(I[1]) and math.isnan(z[1])
    I32, _ = stx.ops.morans_i(torch.from_numpy(x).float(), torch.from_numpy(coords).float())
    assert I32.dtype == torch.float32
    np.testing.assert_allclose(I32.numpy()[[0, 2]], I.numpy()[[0, 2]], rtol=1e-4)


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    x, y = torch.randn(20, 4, dtype=torch.float64, device=device), torch.randn(20, 4, dtype=torch.float64, device=device)
    torch.library.opcheck(torch.ops.stx.pearson_per_gene.default, (x, y, 0))
    coords = torch.rand(20, 2, dtype=torch.float64, device=device)
    torch.library.opcheck(torch.ops.stx.morans_i.default, (x, coords, "knn", 4, 0.0))


def test_bad_inputs_name_the_argument():
    x, c = torch.randn(10, 3), torch.rand(10, 2)
    with pytest.raises(RuntimeError, match="coords must have shape"):
        stx.ops.morans_i(x, c[:, :1])
    with pytest.raises(RuntimeError, match="weights must be"):
        stx.ops.morans_i(x, c, "gabriel")
    with pytest.raises(RuntimeError, match="radius must be positive"):
        stx.ops.morans_i(x, c, "radius")
    for k in (0, 10, 2**31):  # k <= N-1 is checked before the [N, k] neighbour table is allocated
        with pytest.raises(RuntimeError, match=r"k must be in \[1, N-1\]"):
            stx.ops.morans_i(x, c, "knn", k)
    with pytest.raises(RuntimeError, match="radius .* is too small"):  # integer grid keys would overflow
        stx.ops.morans_i(x, c * 1e6, "radius", radius=1e-300)
    bad = c.clone()
    bad[3, 0] = float("nan")
    with pytest.raises(RuntimeError, match="coords contains NaN"):
        stx.ops.morans_i(x, bad)
    with pytest.raises(RuntimeError, match="target shape"):
        stx.ops.pearson_per_gene(x, x[:4])

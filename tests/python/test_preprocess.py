"""Preprocessing against NumPy/pandas re-implementations of scanpy's definitions."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import torch

import stx  # noqa: F401
from stx import data as sd


def ref_normalize(x: np.ndarray, target: float | None, log1p: bool) -> np.ndarray:
    totals = x.sum(1)
    if target is None:
        target = np.median(totals[totals > 0])
    scale = np.divide(target, totals, out=np.zeros_like(totals), where=totals > 0)
    y = x * scale[:, None]
    return np.log1p(y) if log1p else y


def ref_seurat_hvg(x_log: np.ndarray, n_top: int, n_bins: int = 20) -> pd.DataFrame:
    """scanpy.pp.highly_variable_genes(flavor="seurat") written out with numpy/pandas."""
    x = np.expm1(x_log)
    mean = x.mean(0)
    var = x.var(0, ddof=1)
    mean[mean == 0] = 1e-12
    disp = var / mean
    disp[disp == 0] = np.nan
    disp = np.log(disp)
    mean = np.log1p(mean)
    df = pd.DataFrame({"means": mean, "dispersions": disp})
    df["mean_bin"] = pd.cut(df["means"], bins=n_bins)
    grouped = df.groupby("mean_bin", observed=False)["dispersions"]
    bin_mean, bin_std = grouped.mean(), grouped.std(ddof=1)
    one = bin_std.isnull()
    bin_std[one.values] = bin_mean[one.values].values
    bin_mean[one.values] = 0
    df["dispersions_norm"] = ((df["dispersions"].values - bin_mean[df["mean_bin"].values].values)
                              / bin_std[df["mean_bin"].values].values)
    norm = df["dispersions_norm"].values
    valid = np.sort(norm[~np.isnan(norm)])[::-1]
    df["highly_variable"] = np.nan_to_num(norm) >= valid[n_top - 1]
    return df


@pytest.fixture(scope="module")
def counts() -> np.ndarray:
    rng = np.random.default_rng(0)
    x = rng.negative_binomial(2, 0.3, size=(80, 120)).astype(np.float64) * rng.uniform(0, 3, size=120)
    x = np.round(x)
    x[5] = 0  # an empty row stays empty
    x[:, 7] = 0  # a gene never seen
    return x


@pytest.mark.parametrize("layout", ["dense", "csr"])
@pytest.mark.parametrize("target", [1e4, None])
def test_normalize_total(counts, layout, target):
    t = torch.from_numpy(counts)
    t = t.to_sparse_csr() if layout == "csr" else t
    out = sd.normalize_total(t, target_sum=target)
    assert out.layout == t.layout and out.dtype == torch.float64
    got = out.to_dense().numpy() if layout == "csr" else out.numpy()
    np.testing.assert_allclose(got, ref_normalize(counts, target, True), rtol=1e-12)
    f32 = sd.normalize_total(t.to(torch.int32) if layout == "dense" else t.to_dense().float().to_sparse_csr(), 1.0, False)
    assert f32.dtype == torch.float32
    np.testing.assert_allclose(f32.to_dense().numpy(), ref_normalize(counts, 1.0, False), rtol=1e-5, atol=1e-7)


def test_highly_variable_matches_seurat_definition(counts):
    x = ref_normalize(counts, 1e4, True)
    ref = ref_seurat_hvg(x, 30)
    for t in (torch.from_numpy(x), torch.from_numpy(x).to_sparse_csr()):
        out = sd.highly_variable_genes(t, 30)
        np.testing.assert_allclose(out["means"].numpy(), ref["means"], rtol=1e-10)
        np.testing.assert_allclose(out["dispersions"].numpy(), ref["dispersions"], rtol=1e-10)
        np.testing.assert_allclose(out["dispersions_norm"].numpy(), ref["dispersions_norm"], rtol=1e-9)
        np.testing.assert_array_equal(out["highly_variable"].numpy(), ref["highly_variable"].to_numpy())
    assert int(out["highly_variable"].sum()) >= 30


@pytest.mark.realdata
def test_highly_variable_on_pbmc_raw(stx_data):
    a = sd.read_h5ad(stx_data / "pbmc68k-reduced/10x_pbmc68k_reduced.h5ad", dtype=torch.float64)
    x = a.raw_X.to_dense().numpy()  # log-normalised already
    ref = ref_seurat_hvg(x, 100)
    out = sd.highly_variable_genes(a.raw_X, 100)
    np.testing.assert_allclose(out["dispersions_norm"].numpy(), ref["dispersions_norm"], rtol=1e-8)
    np.testing.assert_array_equal(out["highly_variable"].numpy(), ref["highly_variable"].to_numpy())


def test_highly_expressed(counts):
    frac = ref_normalize(counts, 1.0, False).mean(0)
    expected = np.argsort(-frac, kind="stable")[:15]
    for t in (torch.from_numpy(counts), torch.from_numpy(counts).to_sparse_csr()):
        np.testing.assert_array_equal(sd.highly_expressed_genes(t, 15).numpy(), expected)


@pytest.mark.realdata
def test_gene_matching_between_ids_and_symbols(stx_data):
    """The Visium subset names genes by Ensembl id; the Cell Ranger 3 file has ids and symbols."""
    v = sd.read_visium(stx_data / "visium-scanpy")
    ref = sd.read_10x_h5(stx_data / "10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5")
    lookup_id = {g: i for i, g in enumerate(ref.feature_ids)}
    lookup_sym = {g: i for i, g in enumerate(ref.feature_names)}
    query = v.gene_ids[:20] + [ref.feature_names[3], ref.feature_names[4].lower(), ref.feature_ids[5] + ".7", "NOPE"]
    got = sd.match_genes(query, ref.feature_ids, ref.feature_names)
    expected = [lookup_id.get(g, -1) for g in v.gene_ids[:20]] + [lookup_sym[ref.feature_names[3]],
                                                                    lookup_sym[ref.feature_names[4]], 5, -1]
    assert got == expected


def test_align_genes(counts):
    ids = [f"ENSG{j:05d}" for j in range(120)]
    names = [f"G{j}" for j in range(120)]
    target = ["G5", "ENSG00002", "g9", "MISSING"]
    for t in (torch.from_numpy(counts), torch.from_numpy(counts).to_sparse_csr()):
        with pytest.raises(ValueError, match=r"1 of 4 target genes are not in the matrix \(MISSING\)"):
            sd.align_genes(t, ids, names, target)
        out = sd.align_genes(t, ids, names, target, fill_missing=True)
        got = out.to_dense().numpy() if out.layout != torch.strided else out.numpy()
        np.testing.assert_array_equal(got, np.stack([counts[:, 5], counts[:, 2], counts[:, 9], np.zeros(80)], 1))


def test_bad_input():
    with pytest.raises(ValueError, match="counts must be a 2-D"):
        sd.normalize_total(torch.ones(3))
    with pytest.raises(ValueError, match="non-negative"):
        sd.normalize_total(-torch.ones(2, 2))
    with pytest.raises(ValueError, match="NaN"):
        sd.normalize_total(torch.full((2, 2), float("nan")))
    with pytest.raises(ValueError, match=r"n_top_genes must lie in \[1, 2\]"):
        sd.highly_variable_genes(torch.ones(3, 2), 5)
    with pytest.raises(ValueError, match="2 gene columns but 1"):
        sd.align_genes(torch.ones(2, 2), ["a"], ["a"], ["a"])

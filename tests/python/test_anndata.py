"""stx samples <-> anndata.AnnData in the scanpy/squidpy layout (stx.data.anndata_io).

The references are scanpy's own readers (``scanpy.read_visium``, ``scanpy.read_10x_h5``) and
``anndata.read_h5ad`` on the same shared files, and an independent NumPy Moran's I on what stx
returns, checked against ``scanpy.metrics.morans_i``; ``scanpy.pl.spatial`` must draw the result.
"""
from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from stx import data as sdata

anndata = pytest.importorskip("anndata")
sc = pytest.importorskip("scanpy")

pytestmark = pytest.mark.realdata

VISIUM = ["visium-scanpy", "visium-seurat"]


def dense(matrix) -> np.ndarray:
    return matrix.toarray() if sp.issparse(matrix) else np.asarray(matrix)


def scanpy_visium(folder):
    with warnings.catch_warnings():  # scanpy points Visium users to squidpy; the reader is still scanpy's
        warnings.simplefilter("ignore", FutureWarning)
        return sc.read_visium(folder, library_id=folder.name)  # seurat's file has no library_ids attribute


def assert_same_sample(a, b):
    assert a.sample_id == b.sample_id
    assert list(a.barcodes) == list(b.barcodes)
    assert list(a.gene_names) == list(b.gene_names) and list(a.gene_ids) == list(b.gene_ids)
    torch.testing.assert_close(a.counts.to_dense(), b.counts.to_dense(), rtol=0, atol=0)
    torch.testing.assert_close(a.coords_px, b.coords_px, rtol=0, atol=0)
    torch.testing.assert_close(a.array_coords, b.array_coords, rtol=0, atol=0)
    assert a.image_path == b.image_path and a.image_scale == b.image_scale
    assert dict(a.images) == dict(b.images) and dict(a.scalefactors) == dict(b.scalefactors)
    assert a.microns_per_pixel == b.microns_per_pixel or (math.isnan(a.microns_per_pixel)
                                                          and math.isnan(b.microns_per_pixel))


@pytest.mark.parametrize("rel", VISIUM)
def test_visium_as_anndata_matches_scanpy(stx_data, rel):
    folder = stx_data / rel
    ours = sdata.read_visium(folder, as_anndata=True)
    ref = scanpy_visium(folder)
    assert isinstance(ours, anndata.AnnData)
    assert list(ours.obs_names) == list(ref.obs_names)
    assert list(ours.var_names) == list(ref.var_names)
    assert list(ours.var["gene_ids"]) == list(ref.var["gene_ids"])
    np.testing.assert_array_equal(dense(ours.X), dense(ref.X))
    # scanpy's obsm['spatial'] is (pxl_col, pxl_row) = (x, y) in full-resolution pixels
    np.testing.assert_allclose(ours.obsm["spatial"], ref.obsm["spatial"], rtol=0, atol=1e-3)
    np.testing.assert_array_equal(ours.obs["array_row"], ref.obs["array_row"])
    np.testing.assert_array_equal(ours.obs["array_col"], ref.obs["array_col"])
    (ours_lib,), (ref_lib,) = ours.uns["spatial"].values(), ref.uns["spatial"].values()
    for key, value in ref_lib["scalefactors"].items():
        assert ours_lib["scalefactors"][key] == pytest.approx(value, rel=1e-12), key
    for kind in ("hires", "lowres"):
        ours_img, ref_img = ours_lib["images"][kind], ref_lib["images"][kind]
        assert ours_img.dtype == np.uint8 and ours_img.shape[:2] == ref_img.shape[:2]
        # scanpy decodes the PNG to float in [0, 1]; stx keeps the 8-bit samples
        channels = min(ours_img.shape[2], ref_img.shape[2])
        np.testing.assert_allclose(ours_img[..., :channels] / 255.0, ref_img[..., :channels], atol=1e-6)


def test_spatial_sample_round_trip_is_zero_copy(stx_data):
    sample = sdata.read_visium(stx_data / "visium-scanpy")
    adata = sdata.to_anndata(sample)
    assert adata.X.format == "csr" and adata.X.indices.dtype == np.int64
    counts = sample.counts
    assert np.shares_memory(adata.X.data, counts.values().numpy())
    assert np.shares_memory(adata.X.indices, counts.col_indices().numpy())
    assert np.shares_memory(adata.X.indptr, counts.crow_indices().numpy())
    assert np.shares_memory(adata.obsm["spatial"], sample.coords_px.numpy())
    back = sdata.from_anndata(adata)
    assert_same_sample(back, sample)
    assert np.shares_memory(back.counts.values().numpy(), adata.X.data)
    assert np.shares_memory(back.coords_px.numpy(), adata.obsm["spatial"])
    # dense counts stay dense both ways, still without a copy
    dense_sample = sdata.read_visium(stx_data / "visium-scanpy", dense=True)
    dense_adata = sdata.to_anndata(dense_sample)
    assert isinstance(dense_adata.X, np.ndarray) and np.shares_memory(dense_adata.X, dense_sample.counts.numpy())
    assert sdata.from_anndata(dense_adata).counts.layout == torch.strided


@pytest.mark.parametrize("kind", ["visium", "legacy_st"])
def test_round_trip_through_h5ad_file(stx_data, tmp_path, kind):
    if kind == "visium":
        sample = sdata.read_visium(stx_data / "visium-sfe-sample01")
    else:
        her2 = stx_data / "her2st"
        image = next((her2 / "ST-imgs" / "C" / "C2").glob("*.jpg"))
        sample = sdata.read_legacy_st(her2 / "ST-cnts" / "C2.tsv.gz", her2 / "ST-spotfiles" / "C2_selection.tsv",
                                      image)
    path = tmp_path / "sample.h5ad"
    sdata.to_anndata(sample).write_h5ad(path)
    assert_same_sample(sdata.from_anndata(anndata.read_h5ad(path)), sample)
    # stx's own h5ad reader returns the same AnnData that anndata reads
    ours, ref = sdata.read_h5ad(path, as_anndata=True), anndata.read_h5ad(path)
    np.testing.assert_array_equal(dense(ours.X), dense(ref.X))
    np.testing.assert_array_equal(ours.obsm["spatial"], ref.obsm["spatial"])
    assert list(ours.obs_names) == list(ref.obs_names) and list(ours.var["gene_ids"]) == list(ref.var["gene_ids"])


def test_scanpy_anndata_into_stx(stx_data):
    # An AnnData made by scanpy (int64 coordinates, its own library id, no uns['stx']) becomes a
    # sample equal to what stx's reader gives, up to what that layout does not carry.
    folder = stx_data / "visium-seurat"
    sample = sdata.from_anndata(scanpy_visium(folder))
    ref = sdata.read_visium(folder)
    assert list(sample.barcodes) == list(ref.barcodes) and list(sample.gene_ids) == list(ref.gene_ids)
    torch.testing.assert_close(sample.counts.to_dense().float(), ref.counts.to_dense(), rtol=0, atol=0)
    torch.testing.assert_close(sample.coords_px, ref.coords_px, rtol=0, atol=1e-3)
    torch.testing.assert_close(sample.array_coords, ref.array_coords, rtol=0, atol=0)
    for key in ("tissue_hires_scalef", "tissue_lowres_scalef", "spot_diameter_fullres"):
        assert sample.scalefactors[key] == pytest.approx(ref.scalefactors[key], rel=1e-12)


def test_10x_h5_as_anndata_matches_scanpy(stx_data):
    path = stx_data / "10x-h5-scanpy" / "3.0.0" / "filtered_feature_bc_matrix.h5"
    ours, ref = sdata.read_10x_h5(path, as_anndata=True), sc.read_10x_h5(path, gex_only=False)
    assert list(ours.obs_names) == list(ref.obs_names) and list(ours.var_names) == list(ref.var_names)
    for column in ("gene_ids", "feature_types", "genome"):
        assert list(ours.var[column]) == list(ref.var[column]), column
    np.testing.assert_array_equal(dense(ours.X), dense(ref.X))


def test_h5ad_as_anndata_matches_anndata(stx_data):
    path = stx_data / "pbmc68k-reduced" / "10x_pbmc68k_reduced.h5ad"
    ours, ref = sdata.read_h5ad(path, as_anndata=True), anndata.read_h5ad(path)
    np.testing.assert_array_equal(dense(ours.X), dense(ref.X))
    assert list(ours.obs_names) == list(ref.obs_names) and list(ours.var_names) == list(ref.var_names)
    assert list(ours.obs["bulk_labels"].cat.categories) == list(ref.obs["bulk_labels"].cat.categories)
    np.testing.assert_array_equal(ours.obs["bulk_labels"].cat.codes, ref.obs["bulk_labels"].cat.codes)
    np.testing.assert_allclose(ours.obs["n_counts"], ref.obs["n_counts"])
    for key in ("X_pca", "X_umap"):
        np.testing.assert_array_equal(ours.obsm[key], ref.obsm[key])
    np.testing.assert_array_equal(dense(ours.raw.X), dense(ref.raw.X))


def morans_i(values: np.ndarray, weights: sp.spmatrix) -> np.ndarray:
    """Moran's I of each column: N / W * (z' W z) / (z' z), z = x - mean(x), W = sum of the weights."""
    z = values - values.mean(axis=0)
    n, total = values.shape[0], weights.sum()
    return n / total * np.einsum("ig,ig->g", z, weights @ z) / np.einsum("ig,ig->g", z, z)


def test_scanpy_spatial_autocorrelation_and_plot_on_stx_anndata(stx_data, tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    adata = sdata.read_visium(stx_data / "visium-seurat", as_anndata=True)
    # spatial neighbours of each spot from obsm['spatial'] (the 6 hexagonal neighbours)
    sc.pp.neighbors(adata, n_neighbors=7, use_rep="spatial", knn=True, method="gauss")
    weights = adata.obsp["connectivities"]
    genes = np.asarray(dense(adata.X)[:, :20], dtype=np.float64)
    keep = genes.std(axis=0) > 0
    ours = morans_i(genes[:, keep], weights)
    theirs = sc.metrics.morans_i(weights, genes[:, keep].T)
    np.testing.assert_allclose(theirs, ours, rtol=1e-6, atol=1e-9)
    # a spatially shuffled copy has no autocorrelation left; the real layout has some
    shuffled = morans_i(np.random.default_rng(0).permutation(genes[:, keep]), weights)
    assert np.abs(shuffled).max() < 0.1 and ours.max() > 0.2
    # scanpy's spatial plot reads uns['spatial'][library_id] (image + scale factors) and obsm['spatial']
    (library_id,) = adata.uns["spatial"]
    with warnings.catch_warnings():  # scanpy's notes that squidpy/matplotlib have newer APIs
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        axes = sc.pl.spatial(adata, library_id=library_id, img_key="lowres", color=adata.var_names[0], show=False)
    scale = adata.uns["spatial"][library_id]["scalefactors"]["tissue_lowres_scalef"]
    image = adata.uns["spatial"][library_id]["images"]["lowres"]
    assert axes[0].images[0].get_array().shape[:2] == image.shape[:2]
    # one circle per spot, centred on obsm['spatial'] scaled to the lowres image
    paths = axes[0].collections[0].get_paths()
    assert len(paths) == adata.n_obs
    centres = np.array([(p.vertices.min(0) + p.vertices.max(0)) / 2 for p in paths])
    expected = adata.obsm["spatial"] * scale

    def by_position(xy):  # scanpy draws the spots in colour order
        return xy[np.lexsort((xy[:, 1], xy[:, 0]))]

    np.testing.assert_allclose(by_position(centres), by_position(expected), rtol=1e-4, atol=1e-3)


def test_bad_input_names_the_argument(stx_data):
    adata = sdata.read_visium(stx_data / "visium-sfe-sample01", as_anndata=True)
    no_coords = adata.copy()
    del no_coords.obsm["spatial"]
    with pytest.raises(ValueError, match=r"obsm\['spatial'\]"):
        sdata.from_anndata(no_coords)
    with pytest.raises(ValueError, match="layer 'counts'"):
        sdata.from_anndata(adata, layer="counts")
    with pytest.raises(ValueError, match="library_id 'nope'"):
        sdata.from_anndata(adata, library_id="nope")
    with pytest.raises(TypeError, match="SpatialSample, FeatureMatrix"):
        sdata.to_anndata(adata)
    sample = sdata.from_anndata(adata)
    with pytest.raises(ValueError, match="counts must be"):
        sdata.SpatialSample(sample_id="x", counts=torch.zeros(3, 5), barcodes=["a", "b"], gene_names=list("vwxyz"),
                            gene_ids=[], coords_px=torch.zeros(2, 2))
    with pytest.raises(ValueError, match="coords_px must be float32"):
        sdata.SpatialSample(sample_id="x", counts=torch.zeros(2, 1), barcodes=["a", "b"], gene_names=["g"],
                            gene_ids=["g"], coords_px=torch.zeros(2, 2, dtype=torch.float64))
    with pytest.raises(ValueError, match="array_coords must be int64"):
        sdata.SpatialSample(sample_id="x", counts=torch.zeros(2, 1), barcodes=["a", "b"], gene_names=["g"],
                            gene_ids=["g"], coords_px=torch.zeros(2, 2), array_coords=torch.zeros(2, 3).long())

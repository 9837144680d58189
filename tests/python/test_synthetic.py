"""The synthetic study: generate -> write -> read round trip (against h5py/pandas/PIL/anndata),
determinism under a seed, the count model's statistics, and that the image carries the cell types."""
from __future__ import annotations

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
import torch
from PIL import Image

import stx  # noqa: F401
from stx import data as sd

SMALL = dict(n_sections=2, image_size_px=640, n_genes=60, n_reference_cells=120)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    return sd.make_synthetic(tmp_path_factory.mktemp("syn"), seed=3, **SMALL)


def h5_counts(path) -> np.ndarray:
    with h5py.File(path, "r") as f:
        g = f["matrix"]
        n_features, n_barcodes = g["shape"][:]
        return sp.csc_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=(n_features, n_barcodes)).T.toarray()


def test_round_trip_identical(study):
    assert len(study["sections"]) == 2 and len(study["gene_names"]) == 60
    for sec in study["sections"]:
        folder = sec["folder"]
        s = sd.read_visium(folder, dtype="keep")
        assert s.counts.shape == (sec["n_spots"], 60) and sec["n_spots"] > 20
        np.testing.assert_array_equal(s.counts.to_dense().numpy(), h5_counts(f"{folder}/filtered_feature_bc_matrix.h5"))
        with h5py.File(sec["ground_truth"], "r") as gt:
            assert s.barcodes == [b.decode() for b in gt["barcodes"][:]]
            assert gt["spot_cell_type_fraction"].shape == (sec["n_spots"], len(study["cell_types"]))
            np.testing.assert_allclose(gt["spot_cell_type_fraction"][:].sum(1), 1.0, rtol=1e-5)
        pos = pd.read_csv(f"{folder}/spatial/tissue_positions.csv").set_index("barcode").loc[s.barcodes]
        np.testing.assert_allclose(s.coords_px.numpy(), pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(),
                                   atol=1e-3)
        assert (pos.in_tissue == 1).all()
        assert s.gene_names == study["gene_names"] and s.gene_ids == study["gene_ids"]
        assert s.microns_per_pixel == pytest.approx(1.25) and s.image_scale == 1.0
        img = np.asarray(Image.open(s.image_path))
        assert img.shape == (640, 640, 3)
        np.testing.assert_array_equal(stx.data.read_image(s.image_path).numpy(), img)
    ref = anndata.read_h5ad(study["reference"])
    assert ref.obs["cell_type"].cat.categories.tolist() == study["cell_types"]
    ours = sd.read_h5ad(study["reference"])
    np.testing.assert_array_equal(ours.X.to_dense().numpy(), ref.X.toarray())
    assert ref.var_names.tolist() == study["gene_names"] and ref.var["gene_ids"].tolist() == study["gene_ids"]


def test_deterministic_under_seed(study, tmp_path):
    again = sd.make_synthetic(tmp_path / "again", seed=3, **SMALL)
    other = sd.make_synthetic(tmp_path / "other", seed=4, **SMALL)
    for a, b, c in zip(study["sections"], again["sections"], other["sections"]):
        assert a["n_spots"] == b["n_spots"] and a["n_cells"] == b["n_cells"]
        np.testing.assert_array_equal(h5_counts(f"{a['folder']}/filtered_feature_bc_matrix.h5"),
                                      h5_counts(f"{b['folder']}/filtered_feature_bc_matrix.h5"))
        img = [np.asarray(Image.open(f"{s['folder']}/spatial/tissue_hires_image.png")) for s in (a, b, c)]
        np.testing.assert_array_equal(img[0], img[1])
        assert not np.array_equal(img[0], img[2])
    np.testing.assert_array_equal(anndata.read_h5ad(study["reference"]).X.toarray(),
                                  anndata.read_h5ad(again["reference"]).X.toarray())


def test_counts_follow_negative_binomial(tmp_path):
    st = sd.make_synthetic(tmp_path, seed=11, n_sections=1, image_size_px=1200, n_genes=50, n_reference_cells=0,
                           nb_theta=5.0)
    sec = st["sections"][0]
    counts = h5_counts(f"{sec['folder']}/filtered_feature_bc_matrix.h5").astype(np.float64)
    with h5py.File(sec["ground_truth"], "r") as gt:
        mu = gt["spot_expected_counts"][:].astype(np.float64)
    assert counts.sum() == pytest.approx(mu.sum(), rel=0.03)
    assert np.corrcoef(counts.sum(0), mu.sum(0))[0, 1] > 0.98
    # Method-of-moments dispersion: E[(c - mu)^2 - mu] / mu^2 = 1 / theta.
    keep = mu > 20
    inv_theta = np.mean(((counts - mu) ** 2 - mu)[keep] / mu[keep] ** 2)
    assert 1 / inv_theta == pytest.approx(5.0, rel=0.3)


def spot_features(section) -> tuple[np.ndarray, np.ndarray]:
    s = sd.read_visium(section["folder"])
    img = np.asarray(Image.open(s.image_path)).astype(np.float64) / 255
    r = 55 / 2 / s.microns_per_pixel
    yy, xx = np.mgrid[-int(r):int(r) + 1, -int(r):int(r) + 1]
    disk = xx ** 2 + yy ** 2 <= r * r
    feats = []
    for x, y in s.coords_px.numpy():
        patch = img[int(y) - int(r):int(y) + int(r) + 1, int(x) - int(r):int(x) + int(r) + 1][disk]
        grey = patch.mean(1)
        feats.append(np.concatenate([patch.mean(0), patch.std(0), [(grey < t).mean() for t in (0.35, 0.45, 0.55, 0.65)]]))
    with h5py.File(section["ground_truth"], "r") as gt:
        frac = gt["spot_cell_type_fraction"][:]
    return np.asarray(feats), frac


def test_image_predicts_cell_types_across_sections(tmp_path):
    """A linear model on simple colour features of the spot's pixels, fitted on one section,
    predicts the cell-type fractions of another: the image carries the biology."""
    st = sd.make_synthetic(tmp_path, seed=5, n_sections=2, image_size_px=1000, n_genes=20, n_reference_cells=0)
    xa, ya = spot_features(st["sections"][0])
    xb, yb = spot_features(st["sections"][1])
    mean, std = xa.mean(0), xa.std(0) + 1e-9
    design = lambda x: np.hstack([(x - mean) / std, np.ones((len(x), 1))])  # noqa: E731
    a = design(xa)
    w = np.linalg.solve(a.T @ a + 1e-2 * np.eye(a.shape[1]), a.T @ ya)
    pred = design(xb) @ w
    varying = yb.std(0) > 0.05
    corr = [np.corrcoef(pred[:, t], yb[:, t])[0, 1] for t in np.flatnonzero(varying)]
    assert len(corr) >= 2 and np.median(corr) > 0.5, corr


def test_square_grid_and_nucleus_masks(tmp_path):
    st = sd.make_synthetic(tmp_path, seed=2, n_sections=1, image_size_px=800, n_genes=10, n_reference_cells=10,
                           grid="square", spot_diameter_um=100, spot_pitch_um=200, nucleus_masks=True)
    sec = st["sections"][0]
    s = sd.read_visium(sec["folder"])
    rows, cols = s.array_coords[:, 0].numpy(), s.array_coords[:, 1].numpy()
    xy = s.coords_px.numpy()
    same_row = rows[:, None] == rows[None, :]
    step = np.abs(cols[:, None] - cols[None, :]) == 1
    dist = np.abs(xy[:, None, 0] - xy[None, :, 0])[same_row & step]
    np.testing.assert_allclose(dist, 200 / 1.25, atol=1e-2)
    assert s.microns_per_pixel == pytest.approx(1.25)
    with h5py.File(sec["ground_truth"], "r") as gt:
        mask = gt["nucleus_mask"][:]
        cells = gt["cell_xy_px"][:]
        assert mask.shape == (800, 800) and mask.max() <= len(cells)
        centre_labels = mask[cells[:, 1].astype(int), cells[:, 0].astype(int)]
        assert np.mean(centre_labels == np.arange(1, len(cells) + 1)) > 0.9
        under = np.flatnonzero(gt["cell_spot"][:] >= 0)
        np.testing.assert_array_equal(gt["cell_counts/cells"][:], under)
        assert tuple(gt["cell_counts/shape"][:]) == (len(under), 10)


def test_bad_options(tmp_path):
    with pytest.raises(ValueError, match="grid must be 'hex' or 'square'"):
        sd.make_synthetic(tmp_path, grid="hexagon")
    with pytest.raises(ValueError, match="spot_diameter_um"):
        sd.make_synthetic(tmp_path, spot_diameter_um=120, spot_pitch_um=100)
    with pytest.raises(TypeError, match="unknown option 'colour'"):
        sd.make_synthetic(tmp_path, colour="blue")


def test_patches_from_synthetic_sample(study):
    """The sample's image handle and coordinates feed patch extraction: a spot patch is the
    image around the spot centre."""
    s = sd.read_visium(study["sections"][0]["folder"])
    slide, centres = sd.open_image(s)
    assert slide.mpp == pytest.approx(1.25)
    patches = sd.extract_patches(slide, centres[:5], target_mpp=1.25, size=32)
    img = np.asarray(Image.open(s.image_path))
    for p, (x, y) in zip(patches.numpy(), centres[:5].numpy()):
        x0, y0 = int(round(x)) - 16, int(round(y)) - 16
        np.testing.assert_array_equal(p.transpose(1, 2, 0), img[y0:y0 + 32, x0:x0 + 32])

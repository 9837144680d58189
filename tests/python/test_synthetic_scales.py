"""The synthetic study's ground truth at other scales (bin_sizes_um, extra_spot_diameters_um): each scale
folder reads as Visium, cell membership matches a NumPy recomputation from the cell positions, counts follow
capture * sum(library * profile) under the NB law, and asking for scales leaves the 55 um outputs unchanged."""
from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp

import stx  # noqa: F401
from stx import data as sd

BASE = dict(n_sections=2, image_size_px=640, n_genes=40, n_reference_cells=50)
BINS = [2, 8, 16]
SPOTS = [100]
MPP = 1.25
THETA = 10.0  # the default nb_theta


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    return sd.make_synthetic(tmp_path_factory.mktemp("plain"), seed=7, **BASE)


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    return sd.make_synthetic(tmp_path_factory.mktemp("scaled"), seed=7, bin_sizes_um=BINS,
                             extra_spot_diameters_um=SPOTS, **BASE)


def h5_counts(path) -> sp.csr_matrix:
    with h5py.File(path, "r") as f:
        g = f["matrix"]
        n_features, n_barcodes = g["shape"][:]
        return sp.csc_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=(n_features, n_barcodes)).T.tocsr()


def h5_tree(path) -> dict:
    """Every dataset and attribute of an HDF5 file, decoded (the files carry HDF5 object timestamps)."""
    out = {}
    with h5py.File(path, "r") as f:
        def visit(name, obj):
            out[name + "@attrs"] = {k: np.asarray(v).tolist() for k, v in obj.attrs.items()}
            if isinstance(obj, h5py.Dataset):
                out[name] = obj[()]
        f.visititems(visit)
    return out


def section_truth(sec) -> dict:
    with h5py.File(sec["ground_truth"], "r") as gt:
        return {k: gt[k][:] for k in ("cell_xy_px", "cell_type", "cell_library", "profiles")}


def scale_truth(path) -> dict:
    with h5py.File(path, "r") as gt:
        return {"barcodes": [b.decode() for b in gt["barcodes"][:]], "cell_region": gt["cell_region"][:],
                "capture": gt["capture"][:], "n_cells": gt["n_cells"][:]}


def positions(folder, barcodes=None) -> pd.DataFrame:
    pos = pd.read_csv(Path(folder) / "spatial" / "tissue_positions.csv").set_index("barcode")
    return pos if barcodes is None else pos.loc[barcodes]


def test_scale_folders_read_as_visium(scaled):
    for sec in scaled["sections"]:
        assert list(sec["scales"]) == ["square_002um", "square_008um", "square_016um", "spot_100um"]
        for name, sc in sec["scales"].items():
            assert Path(sc["folder"]) == Path(sec["folder"]) / "scales" / name
            s = sd.read_visium(sc["folder"], dtype="keep")
            assert s.counts.shape == (sc["n_regions"], len(scaled["gene_names"])) and sc["n_regions"] > 0
            assert s.gene_names == scaled["gene_names"] and s.gene_ids == scaled["gene_ids"]
            assert s.image_path == "" and s.microns_per_pixel == pytest.approx(MPP)
            assert s.scalefactors["square_bins"] == (1.0 if sc["square_bins"] else 0.0)
            assert s.scalefactors["spot_diameter_fullres"] == pytest.approx(sc["size_um"] / MPP)
            pos = positions(sc["folder"], s.barcodes)
            assert (pos.in_tissue == 1).all()
            np.testing.assert_allclose(s.coords_px.numpy(), pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(),
                                       atol=1e-3)
            np.testing.assert_array_equal(s.array_coords.numpy(), pos[["array_row", "array_col"]].to_numpy())
            assert scale_truth(sc["ground_truth"])["barcodes"] == s.barcodes
            if sc["square_bins"]:
                size = int(sc["size_um"])
                assert s.scalefactors["bin_size_um"] == size
                assert s.barcodes[0] == f"s_{size:03d}um_{pos.array_row.iloc[0]:05d}_{pos.array_col.iloc[0]:05d}-1"
                # Bin (r, c) covers [c*s, (c+1)*s) x [r*s, (r+1)*s) um; its centre is listed.
                np.testing.assert_allclose(pos.pxl_col_in_fullres, (pos.array_col + 0.5) * size / MPP, atol=1e-3)
                np.testing.assert_allclose(pos.pxl_row_in_fullres, (pos.array_row + 0.5) * size / MPP, atol=1e-3)
        # Bins are in tissue by the same outline at every size: the 2 um bins cover the 16 um bins' area.
        n2, n16 = sec["scales"]["square_002um"]["n_regions"], sec["scales"]["square_016um"]["n_regions"]
        assert n2 / 64 == pytest.approx(n16, rel=0.05)
    meta = json.loads(Path(scaled["study_json"]).read_text())
    assert meta["bin_sizes_um"] == BINS and meta["extra_spot_diameters_um"] == SPOTS
    for entry, sec in zip(meta["sections"], scaled["sections"]):
        assert {k: str(Path(scaled["out_dir"]) / v) for k, v in entry["scales"].items()} == \
            {k: str(Path(v["folder"])) for k, v in sec["scales"].items()}


def bin_regions(xy_px: np.ndarray, size: int, folder, barcodes) -> np.ndarray:
    pos = positions(folder, barcodes)
    row_of = {(r, c): i for i, (r, c) in enumerate(zip(pos.array_row, pos.array_col))}
    cols = np.floor(xy_px[:, 0].astype(np.float64) * MPP / size).astype(np.int64)
    rows = np.floor(xy_px[:, 1].astype(np.float64) * MPP / size).astype(np.int64)
    return np.array([row_of.get((r, c), -1) for r, c in zip(rows, cols)], dtype=np.int64)


def test_cell_region_matches_numpy(scaled):
    for sec in scaled["sections"]:
        xy = section_truth(sec)["cell_xy_px"]
        for name, sc in sec["scales"].items():
            truth = scale_truth(sc["ground_truth"])
            region = truth["cell_region"]
            assert region.shape == (len(xy),) and region.dtype == np.int64
            if sc["square_bins"]:
                np.testing.assert_array_equal(region, bin_regions(xy, int(sc["size_um"]), sc["folder"], truth["barcodes"]))
            else:
                pos = positions(sc["folder"], truth["barcodes"])
                centres = pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy()
                r_px = sc["size_um"] / 2 / MPP
                d = np.linalg.norm(xy[:, None, :].astype(np.float64) - centres[None], axis=2)
                assert ((d <= r_px).sum(1) <= 1).all()  # pitch 2 * diameter: spots never overlap
                expect = np.where((d <= r_px).any(1), (d <= r_px).argmax(1), -1)
                # The CSV rounds centres to 1e-3 px: cells that close to a rim may fall either way.
                clear = np.abs(d - r_px).min(1) > 1e-2
                np.testing.assert_array_equal(region[clear], expect[clear])
                assert clear.mean() > 0.99 and (expect >= 0).sum() > 50
            np.testing.assert_array_equal(truth["n_cells"], np.bincount(region[region >= 0], minlength=sc["n_regions"]))


def test_n_cells_of_16um_bins_counts_cells_in_tissue_bins(scaled):
    for sec in scaled["sections"]:
        sc = sec["scales"]["square_016um"]
        truth = scale_truth(sc["ground_truth"])
        xy = section_truth(sec)["cell_xy_px"]
        in_tissue_bin = bin_regions(xy, 16, sc["folder"], truth["barcodes"]) >= 0
        assert truth["n_cells"].sum() == in_tissue_bin.sum() > 100
        # Most cells are in tissue; those that are not lie in a bin whose centre is outside the outline.
        assert in_tissue_bin.mean() > 0.9


def expected_counts(sec, sc) -> tuple[np.ndarray, np.ndarray]:
    """capture * sum over the region's cells of library * profile[type], rebuilt from the ground truth files."""
    t = section_truth(sec)
    truth = scale_truth(sc["ground_truth"])
    region = truth["cell_region"]
    keep = region >= 0
    per_cell = t["cell_library"][keep, None] * t["profiles"][t["cell_type"][keep]]
    summed = np.zeros((sc["n_regions"], t["profiles"].shape[1]))
    np.add.at(summed, region[keep], per_cell)
    return summed * truth["capture"][:, None], truth["n_cells"]


@pytest.mark.parametrize("name", ["square_002um", "square_008um", "square_016um", "spot_100um"])
def test_counts_follow_capture_times_cell_sum(scaled, name):
    ratios, variances, obs_total, exp_total, var_total = [], [], 0.0, 0.0, 0.0
    for sec in scaled["sections"]:
        sc = sec["scales"][name]
        mu, n_cells = expected_counts(sec, sc)
        counts = h5_counts(Path(sc["folder"]) / "filtered_feature_bc_matrix.h5")
        assert counts.shape == mu.shape
        # Regions holding no cell centre have a zero mean, hence no counts at all.
        assert counts[n_cells == 0].nnz == 0
        assert (mu[n_cells == 0] == 0).all() and (mu[n_cells > 0].sum(1) > 0).all()
        totals = np.asarray(counts.sum(1)).ravel()[n_cells > 0].astype(np.float64)
        m = mu[n_cells > 0]
        var = (m + m ** 2 / THETA).sum(1)  # NB per gene, genes independent
        e = m.sum(1)
        ratios.append(totals / e)
        variances.append(var / e ** 2)
        obs_total += totals.sum()
        exp_total += e.sum()
        var_total += var.sum()
    ratios, variances = np.concatenate(ratios), np.concatenate(variances)
    assert len(ratios) >= 10
    # Each region's total / expected has mean 1 and variance var / e^2; 5 standard errors.
    se = np.sqrt(variances.sum()) / len(ratios)
    assert abs(ratios.mean() - 1.0) < 5 * se
    assert abs(obs_total - exp_total) < 5 * np.sqrt(var_total)


def test_capture_is_lognormal_per_region(scaled):
    capture = np.concatenate([scale_truth(sec["scales"]["square_002um"]["ground_truth"])["capture"]
                              for sec in scaled["sections"]])
    log_c = np.log(capture)
    n = len(log_c)
    assert n > 10000
    assert abs(log_c.mean()) < 5 * 0.2 / np.sqrt(n)
    assert log_c.std() == pytest.approx(0.2, rel=5 / np.sqrt(2 * n))


def test_main_outputs_unchanged_by_scales(plain, scaled):
    for a, b in zip(plain["sections"], scaled["sections"]):
        assert a["scales"] == {} and a["n_spots"] == b["n_spots"] and a["n_cells"] == b["n_cells"]
        fa, fb = Path(a["folder"]), Path(b["folder"])
        for rel in ("spatial/tissue_positions.csv", "spatial/scalefactors_json.json",
                    "spatial/tissue_hires_image.png", "spatial/tissue_lowres_image.png"):
            assert (fa / rel).read_bytes() == (fb / rel).read_bytes(), rel
        for rel in ("filtered_feature_bc_matrix.h5", "ground_truth.h5"):
            ta, tb = h5_tree(fa / rel), h5_tree(fb / rel)
            assert ta.keys() == tb.keys()
            for k in ta:
                np.testing.assert_array_equal(ta[k], tb[k], err_msg=f"{rel}:{k}")
        assert not (fa / "scales").exists()
    ta, tb = h5_tree(plain["reference"]), h5_tree(scaled["reference"])
    assert ta.keys() == tb.keys() and all(np.array_equal(ta[k], tb[k]) for k in ta if not k.endswith("@attrs"))
    ja, jb = (json.loads(Path(s["study_json"]).read_text()) for s in (plain, scaled))
    assert "bin_sizes_um" not in ja and "extra_spot_diameters_um" not in ja
    assert all("scales" not in s for s in ja["sections"])
    for key in ("bin_sizes_um", "extra_spot_diameters_um"):
        del jb[key]
    for s in jb["sections"]:
        del s["scales"]
    assert ja == jb


def test_scales_deterministic_and_independent(scaled, tmp_path):
    # The 8 um draws depend on the seed, the section and the scale, not on which other scales are written.
    again = sd.make_synthetic(tmp_path, seed=7, bin_sizes_um=[8], **BASE)
    for a, b in zip(scaled["sections"], again["sections"]):
        sa, sb = a["scales"]["square_008um"], b["scales"]["square_008um"]
        assert (h5_counts(Path(sa["folder"]) / "filtered_feature_bc_matrix.h5") !=
                h5_counts(Path(sb["folder"]) / "filtered_feature_bc_matrix.h5")).nnz == 0
        ta, tb = scale_truth(sa["ground_truth"]), scale_truth(sb["ground_truth"])
        for k in ta:
            np.testing.assert_array_equal(ta[k], tb[k])


@pytest.mark.parametrize("options, message", [
    (dict(bin_sizes_um=[-8]), r"bin_sizes_um must be finite and > 0, got -8"),
    (dict(bin_sizes_um=[float("nan")]), r"bin_sizes_um must be finite"),
    (dict(bin_sizes_um=[2.5]), r"bin_sizes_um must be whole microns"),
    (dict(bin_sizes_um=[8, 16, 8]), r"bin_sizes_um lists 8 more than once"),
    (dict(bin_sizes_um=[4], image_size_px=20000), r"bin_sizes_um = 4 puts 39062500 regions .* limit of 4000000"),
    (dict(bin_sizes_um=[900]), r"bin_sizes_um = 900 is larger than the image"),
    (dict(extra_spot_diameters_um=[0]), r"extra_spot_diameters_um must be finite and > 0"),
    (dict(extra_spot_diameters_um=[100, 100]), r"extra_spot_diameters_um lists 100 more than once"),
    (dict(extra_spot_diameters_um=[2], image_size_px=20000), r"extra_spot_diameters_um = 2 puts .* limit of 4000000"),
])
def test_bad_scale_options_name_the_option(tmp_path, options, message):
    with pytest.raises(ValueError, match=message):
        sd.make_synthetic(tmp_path / "bad", seed=0, **{**BASE, **options})
    assert not (tmp_path / "bad").exists()  # rejected before anything is written

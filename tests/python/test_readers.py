"""Readers on the real files in shared/data, each checked against an independent reader
(h5py, anndata, pandas, scipy), plus bad-input errors."""
from __future__ import annotations

import gzip
import json
import shutil

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import scipy.io
import scipy.sparse as sp
import torch

import stx  # noqa: F401
from stx import data as sd


def dense(t: torch.Tensor) -> np.ndarray:
    return (t.to_dense() if t.layout != torch.strided else t).numpy()


def decode(values) -> list[str]:
    return [v.decode() if isinstance(v, bytes) else str(v) for v in values]


def h5py_10x(path):
    """Independent 10x reader: returns (dense [barcodes, features], barcodes, ids, names)."""
    with h5py.File(path, "r") as f:
        g = f["matrix"] if "matrix" in f else f[next(k for k in f.keys() if "indptr" in f[k])]
        n_features, n_barcodes = (int(x) for x in g["shape"][:])
        m = sp.csc_matrix((g["data"][:], g["indices"][:], g["indptr"][:]), shape=(n_features, n_barcodes))
        if "features" in g:
            ids, names = decode(g["features/id"][:]), decode(g["features/name"][:])
        else:
            ids, names = decode(g["genes"][:]), decode(g["gene_names"][:])
        return m.T.toarray(), decode(g["barcodes"][:]), ids, names


# --- 10x HDF5 ---------------------------------------------------------------------------------

@pytest.mark.realdata
@pytest.mark.parametrize("rel, shape", [
    ("10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5", (1107, 507)),        # Cell Ranger 3, int32
    ("10x-h5-scanpy/1.2.0/filtered_gene_bc_matrices_h5.h5", (12, 343)),         # Cell Ranger 2 /<genome>
    ("visium-scanpy/filtered_feature_bc_matrix.h5", (100, 100)),                # float64 data, fixed-len attrs
    ("visium-seurat/filtered_feature_bc_matrix.h5", (2695, 100)),               # no root attributes, chunked
    ("xenium-sfe-toy/cell_feature_matrix.h5", (526, 30)),                       # Xenium, float64
])
def test_read_10x_h5_matches_h5py(stx_data, rel, shape):
    ref, barcodes, ids, names = h5py_10x(stx_data / rel)
    m = sd.read_10x_h5(stx_data / rel, dtype="keep")
    assert m.counts.layout == torch.sparse_csr and tuple(m.counts.shape) == shape
    np.testing.assert_array_equal(dense(m.counts), ref)
    assert m.barcodes == barcodes and m.feature_ids == ids and m.feature_names == names
    d = sd.read_10x_h5(stx_data / rel, dense=True)
    assert d.counts.dtype == torch.float32 and d.counts.layout == torch.strided
    np.testing.assert_allclose(d.counts.numpy(), ref.astype(np.float32))


@pytest.mark.realdata
def test_read_10x_h5_feature_types_and_attributes(stx_data):
    x = sd.read_10x_h5(stx_data / "xenium-sfe-toy/cell_feature_matrix.h5")
    assert {"Gene Expression", "Negative Control Probe", "Unassigned Codeword"} <= set(x.feature_types)
    v = sd.read_10x_h5(stx_data / "visium-scanpy/filtered_feature_bc_matrix.h5")
    assert v.attributes["software_version"] == "spaceranger-1.0.0"
    assert sd.read_10x_h5(stx_data / "visium-seurat/filtered_feature_bc_matrix.h5").attributes == {}


# --- Visium -----------------------------------------------------------------------------------

def positions(folder) -> pd.DataFrame:
    cols = ["barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres", "pxl_col_in_fullres"]
    v2 = folder / "spatial/tissue_positions.csv"
    if v2.exists():
        return pd.read_csv(v2).set_index("barcode")
    return pd.read_csv(folder / "spatial/tissue_positions_list.csv", header=None, names=cols).set_index("barcode")


@pytest.mark.realdata
@pytest.mark.parametrize("rel", ["visium-scanpy", "visium-seurat", "visium-sfe-sample01"])
def test_read_visium_matches_pandas(stx_data, rel):
    folder = stx_data / rel
    s = sd.read_visium(folder, dtype="keep")
    if (folder / "filtered_feature_bc_matrix.h5").exists():
        ref, barcodes, ids, names = h5py_10x(folder / "filtered_feature_bc_matrix.h5")
    else:  # Space Ranger >= 2 MatrixMarket folder
        mtx = folder / "filtered_feature_bc_matrix"
        ref = scipy.io.mmread(mtx / "matrix.mtx").T.toarray()
        barcodes = pd.read_csv(mtx / "barcodes.tsv", header=None, sep="\t")[0].tolist()
        feats = pd.read_csv(mtx / "features.tsv", header=None, sep="\t")
        ids, names = feats[0].tolist(), feats[1].tolist()
    np.testing.assert_array_equal(dense(s.counts), ref)
    assert s.barcodes == barcodes and s.gene_ids == ids and s.gene_names == names
    pos = positions(folder).loc[barcodes]
    np.testing.assert_allclose(s.coords_px.numpy(), pos[["pxl_col_in_fullres", "pxl_row_in_fullres"]].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(s.array_coords.numpy(), pos[["array_row", "array_col"]].to_numpy())
    scale = json.loads((folder / "spatial/scalefactors_json.json").read_text())
    assert s.scalefactors["tissue_hires_scalef"] == pytest.approx(scale["tissue_hires_scalef"])
    assert s.microns_per_pixel == pytest.approx(55.0 / scale["spot_diameter_fullres"])
    assert s.image_path.endswith("tissue_hires_image.png") and s.image_scale == pytest.approx(scale["tissue_hires_scalef"])


# --- legacy ST (HER2+) ------------------------------------------------------------------------

@pytest.mark.realdata
def test_read_legacy_st_matches_pandas(stx_data):
    root = stx_data / "her2st"
    image = root / "ST-imgs/C/C3/5714_HE_BT_D1.jpg"
    s = sd.read_legacy_st(root / "ST-cnts/C3.tsv.gz", root / "ST-spotfiles/C3_selection.tsv", image, dense=True)
    counts = pd.read_csv(root / "ST-cnts/C3.tsv.gz", sep="\t", index_col=0)
    sel = pd.read_csv(root / "ST-spotfiles/C3_selection.tsv", sep="\t")
    sel.index = [f"{x}x{y}" for x, y in zip(sel.x, sel.y)]
    assert s.barcodes == counts.index.tolist() and s.gene_names == counts.columns.tolist()
    np.testing.assert_array_equal(s.counts.numpy(), counts.to_numpy(dtype=np.float32))
    sel = sel.loc[counts.index]
    np.testing.assert_allclose(s.coords_px.numpy(), sel[["pixel_x", "pixel_y"]].to_numpy(), rtol=1e-6)
    np.testing.assert_array_equal(s.array_coords.numpy(), sel[["y", "x"]].to_numpy())
    assert s.image_path == str(image)
    # The spots lie inside the H&E image (9270 x 9936 px).
    assert (s.coords_px[:, 0].max() < 9270) and (s.coords_px[:, 1].max() < 9936) and (s.coords_px.min() > 0)


# --- h5ad -------------------------------------------------------------------------------------

@pytest.mark.realdata
def test_read_h5ad_matches_anndata(stx_data):
    path = stx_data / "pbmc68k-reduced/10x_pbmc68k_reduced.h5ad"
    ref = anndata.read_h5ad(path)
    a = sd.read_h5ad(path)
    np.testing.assert_array_equal(a.X.numpy(), ref.X)
    assert a.obs.index == ref.obs_names.tolist() and a.var.index == ref.var_names.tolist()
    assert a.raw_X.layout == torch.sparse_csr
    np.testing.assert_array_equal(dense(a.raw_X), ref.raw.X.toarray())
    assert a.raw_var.index == ref.raw.var_names.tolist()
    for key in ("X_pca", "X_umap"):
        np.testing.assert_array_equal(a.obsm[key].numpy(), ref.obsm[key])
    labels = a.obs.columns["bulk_labels"]
    assert labels.kind == "categorical"
    assert labels.strings == ref.obs["bulk_labels"].cat.categories.tolist()
    np.testing.assert_array_equal(labels.values.numpy(), ref.obs["bulk_labels"].cat.codes.to_numpy())
    pd.testing.assert_frame_equal(sd.to_pandas(a.obs), ref.obs.rename_axis(None), check_index_type=False,
                                  check_column_type=False)
    assert a.var.columns["highly_variable"].values.dtype == torch.bool


def test_h5ad_encodings_roundtrip(tmp_path):
    """CSC X, layers, string/numeric/categorical columns written by anndata; the old
    `__categories` encoding and `h5sparse_format` written by hand."""
    rng = np.random.default_rng(0)
    X = sp.random(30, 12, density=0.3, format="csc", random_state=1, dtype=np.float32)
    obs = pd.DataFrame({"kind": pd.Categorical(rng.choice(["a", "b", "c"], 30)), "score": rng.normal(size=30),
                        "name": [f"n{i}" for i in range(30)]}, index=[f"c{i}" for i in range(30)])
    ad = anndata.AnnData(X=X, obs=obs, var=pd.DataFrame(index=[f"g{j}" for j in range(12)]),
                         layers={"counts": sp.csr_matrix(X)}, obsm={"spatial": rng.normal(size=(30, 2))})
    ad.write_h5ad(tmp_path / "new.h5ad")
    a = sd.read_h5ad(tmp_path / "new.h5ad")
    assert a.X.layout == torch.sparse_csc
    np.testing.assert_array_equal(dense(a.X), X.toarray())
    np.testing.assert_array_equal(dense(a.layers["counts"]), X.toarray())
    np.testing.assert_array_equal(a.obsm["spatial"].numpy(), ad.obsm["spatial"])
    pd.testing.assert_frame_equal(sd.to_pandas(a.obs), obs, check_index_type=False)
    assert sd.read_h5ad(tmp_path / "new.h5ad", dense=True, dtype=torch.float64).X.dtype == torch.float64

    with h5py.File(tmp_path / "old.h5ad", "w") as f:  # anndata 0.6/0.7 style
        x = f.create_group("X")
        x.attrs["h5sparse_format"] = "csr"
        x.attrs["h5sparse_shape"] = np.array([3, 2])
        x["data"], x["indices"], x["indptr"] = np.array([1.0, 2.0]), np.array([0, 1]), np.array([0, 1, 1, 2])
        o = f.create_group("obs")
        o.attrs["_index"] = "index"
        o["index"] = np.array([b"r0", b"r1", b"r2"])
        cats = o.create_group("__categories")
        cats["grp"] = np.array([b"x", b"y"])
        o["grp"] = np.array([1, 0, -1], dtype=np.int8)
        o["grp"].attrs["categories"] = cats["grp"].ref
        v = f.create_group("var")
        v.attrs["_index"] = "index"
        v["index"] = np.array([b"g0", b"g1"])
    old = sd.read_h5ad(tmp_path / "old.h5ad")
    np.testing.assert_array_equal(dense(old.X), [[1, 0], [0, 0], [0, 2]])
    grp = old.obs.columns["grp"]
    assert grp.kind == "categorical" and grp.strings == ["x", "y"] and grp.values.tolist() == [1, 0, -1]


# --- HEST-1k layout ---------------------------------------------------------------------------

def test_read_hest_layout(tmp_path):
    rng = np.random.default_rng(3)
    counts = rng.poisson(2.0, size=(25, 8)).astype(np.float32)
    xy = rng.uniform(0, 5000, size=(25, 2))
    obs = pd.DataFrame({"array_row": np.arange(25) // 5, "array_col": np.arange(25) % 5},
                       index=[f"s{i}" for i in range(25)])
    var = pd.DataFrame({"gene_ids": [f"ENSG{j:04d}" for j in range(8)]}, index=[f"G{j}" for j in range(8)])
    for sub in ("st", "wsis", "metadata", "patches"):
        (tmp_path / sub).mkdir()
    anndata.AnnData(X=sp.csr_matrix(counts), obs=obs, var=var, obsm={"spatial": xy}).write_h5ad(tmp_path / "st/TENX1.h5ad")
    (tmp_path / "metadata/TENX1.json").write_text(json.dumps({"pixel_size_um_estimated": 0.2737, "organ": "Breast"}))
    (tmp_path / "wsis/TENX1.tif").write_bytes(b"II*\x00")
    s = sd.read_hest(tmp_path, "TENX1")
    np.testing.assert_array_equal(dense(s.counts), counts)
    np.testing.assert_allclose(s.coords_px.numpy(), xy.astype(np.float32))
    np.testing.assert_array_equal(s.array_coords.numpy(), obs[["array_row", "array_col"]].to_numpy())
    assert s.barcodes == obs.index.tolist() and s.gene_names == var.index.tolist()
    assert s.gene_ids == var.gene_ids.tolist()
    assert s.microns_per_pixel == pytest.approx(0.2737)
    assert s.image_path == str(tmp_path / "wsis/TENX1.tif") and "patches" not in s.images
    with pytest.raises(ValueError, match="not a HEST-1k folder.*MISSING"):
        sd.read_hest(tmp_path, "MISSING")


# --- bad input --------------------------------------------------------------------------------

@pytest.mark.realdata
def test_bad_hdf5_inputs(stx_data, tmp_path):
    src = stx_data / "10x-h5-scanpy/3.0.0/filtered_feature_bc_matrix.h5"
    raw = src.read_bytes()
    (tmp_path / "truncated.h5").write_bytes(raw[: len(raw) // 3])
    with pytest.raises(ValueError, match=r"truncated\.h5"):
        sd.read_10x_h5(tmp_path / "truncated.h5")
    corrupt = bytearray(raw)
    corrupt[len(raw) // 2: len(raw) // 2 + 4096] = b"\xff" * 4096
    (tmp_path / "corrupt.h5").write_bytes(bytes(corrupt))
    try:  # corrupt bytes may land in chunk data HDF5 cannot validate; it must not crash
        sd.read_10x_h5(tmp_path / "corrupt.h5")
    except ValueError as e:
        assert "corrupt.h5" in str(e)
    (tmp_path / "text.h5").write_text("hello")
    with pytest.raises(ValueError, match="not an HDF5 file"):
        sd.read_10x_h5(tmp_path / "text.h5")
    with pytest.raises(ValueError, match="HDF5 file not found"):
        sd.read_10x_h5(tmp_path / "absent.h5")
    shutil.copy(src, tmp_path / "missing.h5")
    with h5py.File(tmp_path / "missing.h5", "a") as f:
        del f["matrix/indptr"]
    with pytest.raises(ValueError, match=r"missing '/matrix/indptr'"):
        sd.read_10x_h5(tmp_path / "missing.h5")
    shutil.copy(src, tmp_path / "badptr.h5")
    with h5py.File(tmp_path / "badptr.h5", "a") as f:
        f["matrix/indices"][0] = 10**6
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 507\)"):
        sd.read_10x_h5(tmp_path / "badptr.h5")
    with pytest.raises(ValueError, match="not a 10x feature-barcode matrix"):
        sd.read_10x_h5(stx_data / "pbmc68k-reduced/10x_pbmc68k_reduced.h5ad")


@pytest.mark.realdata
def test_bad_visium_inputs(stx_data, tmp_path):
    with pytest.raises(ValueError, match="not a Visium folder"):
        sd.read_visium(stx_data / "her2st")
    folder = tmp_path / "v"
    shutil.copytree(stx_data / "visium-sfe-sample01", folder)
    lines = (folder / "spatial/tissue_positions.csv").read_text().splitlines()
    (folder / "spatial/tissue_positions.csv").write_text("\n".join(lines[:1] + lines[2:]) + "\n")
    missing = lines[1].split(",")[0]
    with pytest.raises(ValueError, match=f"barcode '{missing}' is missing from the spatial positions"):
        sd.read_visium(folder)
    (folder / "spatial/tissue_positions.csv").write_text("barcode,in_tissue\nAAA,1\n")
    with pytest.raises(ValueError, match="missing column 'array_row'"):
        sd.read_visium(folder)
    (folder / "spatial/tissue_positions.csv").write_text("\n".join(lines) + "\n")
    (folder / "spatial/scalefactors_json.json").write_text("{\"spot_diameter_fullres\": ")
    with pytest.raises(ValueError, match="scalefactors_json.json: not valid JSON"):
        sd.read_visium(folder)


@pytest.mark.realdata
def test_bad_legacy_st_inputs(stx_data, tmp_path):
    root = stx_data / "her2st"
    raw = (root / "ST-cnts/C2.tsv.gz").read_bytes()
    (tmp_path / "cut.tsv.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match=r"cut\.tsv\.gz: .*(truncated|corrupt)"):
        sd.read_legacy_st(tmp_path / "cut.tsv.gz", root / "ST-spotfiles/C2_selection.tsv")
    with gzip.open(tmp_path / "short.tsv.gz", "wt") as f:
        f.write("\tA\tB\n1x1\t3\n")
    with pytest.raises(ValueError, match=r"spot '1x1'\) has 1 counts, expected 2"):
        sd.read_legacy_st(tmp_path / "short.tsv.gz", root / "ST-spotfiles/C2_selection.tsv")
    with gzip.open(tmp_path / "far.tsv.gz", "wt") as f:
        f.write("\tA\n99x99\t3\n")
    with pytest.raises(ValueError, match="spot '99x99' is missing from the spot file"):
        sd.read_legacy_st(tmp_path / "far.tsv.gz", root / "ST-spotfiles/C2_selection.tsv")


def test_bad_options():
    with pytest.raises(ValueError, match="dtype must be"):
        sd.read_10x_h5("x.h5", dtype="complex64")

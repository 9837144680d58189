"""read_h5ad on files anndata writes with missing values and on files whose parts disagree: nullable
columns keep their missing entries (checked against anndata), obsm/layers/raw must match X."""
from __future__ import annotations

import anndata
import h5py
import numpy as np
import pandas as pd
import pytest
import torch

import stx  # noqa: F401
from stx import data as sd


def write_nullable(path, n=7, seed=0):
    rng = np.random.default_rng(seed)
    a = anndata.AnnData(X=rng.random((n, 4)).astype(np.float32))
    ints = rng.integers(-50, 50, n).astype(object)
    ints[[1, 4]] = None
    bools = (rng.random(n) > 0.5).astype(object)
    bools[[0, 5]] = None
    a.obs["count"] = pd.array(list(ints), dtype="Int64")
    a.obs["flag"] = pd.array(list(bools), dtype="boolean")
    a.obs["full"] = pd.array(list(range(n)), dtype="Int64")  # nullable but nothing missing
    a.write_h5ad(path)
    return a


def test_nullable_columns_match_anndata(tmp_path):
    path = tmp_path / "nullable.h5ad"
    write_nullable(path)
    ref = anndata.read_h5ad(path).obs
    got = sd.read_h5ad(path).obs.columns
    for name in ("count", "flag"):
        col = got[name]
        missing = ref[name].isna().to_numpy()
        assert missing.any()
        np.testing.assert_array_equal(col.mask.numpy(), missing)
        assert col.values.dtype == torch.float64
        expected = ref[name].to_numpy(dtype=np.float64, na_value=np.nan)
        np.testing.assert_array_equal(col.values.numpy(), expected)  # NaN where anndata has <NA>
    full = got["full"]
    assert full.values.dtype == torch.int64 and not full.mask.any()
    np.testing.assert_array_equal(full.values.numpy(), ref["full"].to_numpy(dtype=np.int64))
    # to_pandas turns the NaNs into missing values, like anndata's <NA>
    frame = sd.to_pandas(sd.read_h5ad(path).obs)
    np.testing.assert_array_equal(frame["count"].isna().to_numpy(), ref["count"].isna().to_numpy())


def test_nullable_float_and_bad_mask(tmp_path):
    path = tmp_path / "nf.h5ad"
    write_nullable(path)
    with h5py.File(path, "r+") as f:
        g = f["obs"].create_group("nf")
        g.attrs["encoding-type"] = "nullable-float"
        g.attrs["encoding-version"] = "0.1.0"
        g["values"] = np.arange(7, dtype=np.float32)
        g["mask"] = np.array([0, 0, 1, 0, 0, 0, 1], dtype=bool)
    col = sd.read_h5ad(path).obs.columns["nf"]
    expected = np.arange(7, dtype=np.float64)
    expected[[2, 6]] = np.nan
    np.testing.assert_array_equal(col.values.numpy(), expected)
    with h5py.File(path, "r+") as f:
        del f["obs/nf/mask"]
        f["obs/nf/mask"] = np.zeros(5, dtype=bool)
    with pytest.raises(ValueError, match=r"nf/mask: has 5 entries, expected 7"):
        sd.read_h5ad(path)


def test_obsm_layers_and_raw_must_match_x(tmp_path):
    rng = np.random.default_rng(1)
    a = anndata.AnnData(X=rng.random((5, 3)).astype(np.float32))
    a.obsm["spatial"] = rng.random((5, 2))
    a.layers["counts"] = rng.random((5, 3)).astype(np.float32)
    good = tmp_path / "good.h5ad"
    a.write_h5ad(good)
    r = sd.read_h5ad(good)
    assert tuple(r.obsm["spatial"].shape) == (5, 2) and tuple(r.layers["counts"].shape) == (5, 3)

    def broken(name, edit):
        path = tmp_path / name
        a.write_h5ad(path)
        with h5py.File(path, "r+") as f:
            edit(f)
        return path

    def replace(f, key, value):
        del f[key]
        f[key] = value

    p = broken("obsm.h5ad", lambda f: replace(f, "obsm/spatial", rng.random((4, 2))))
    with pytest.raises(ValueError, match=r"obsm 'spatial' has shape \[4, 2\], expected 5 rows"):
        sd.read_h5ad(p)
    p = broken("layer.h5ad", lambda f: replace(f, "layers/counts", rng.random((5, 4)).astype(np.float32)))
    with pytest.raises(ValueError, match=r"layer 'counts' has shape \[5, 4\], expected X's shape \[5, 3\]"):
        sd.read_h5ad(p)
    # skipping layers skips their check
    assert tuple(sd.read_h5ad(p, layers=False).X.shape) == (5, 3)

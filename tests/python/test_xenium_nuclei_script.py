"""scripts/xenium_nuclei_labels.py on the real Xenium crop: nuclear counts equal xenium_cell_counts,
the DAPI readout equals a NumPy mean over the rasterised nuclei, the registration check separates a
right from a wrong origin, and earlier outputs are never overwritten without --force."""
import importlib.util
import json
from pathlib import Path

import numpy as np
import pytest
import torch

import stx.data as sdata

SCRIPT = Path(__file__).resolve().parents[2] / "scripts" / "xenium_nuclei_labels.py"
XENIUM = "xenium-sfe-toy"
# This crop's DAPI image is downsampled and cropped; its OME tag is wrong (see SOURCES.md). These
# values maximise the DAPI contrast inside the nucleus polygons (a grid search, 1.6-2.0 µm/px).
REGISTRATION = ["--pixel-size", "1.70", "--origin", "995", "998"]


def load_script():
    spec = importlib.util.spec_from_file_location("xenium_nuclei_labels", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.realdata
def test_nuclear_counts_types_and_dapi_readout(stx_data, tmp_path, capsys):
    import anndata

    script = load_script()
    root = stx_data / XENIUM
    assert script.main([str(root), "--out", str(tmp_path), "--min-counts", "3", *REGISTRATION]) == 0
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["dapi_contrast"] > 2.0 and "warning" not in capsys.readouterr().err

    adata = anndata.read_h5ad(tmp_path / "nuclei.h5ad")
    nuclei = sdata.read_xenium_polygons(root / "nucleus_boundaries.csv.gz")
    matrix = sdata.read_10x_h5(root / "cell_feature_matrix.h5")
    genes = [n for n, t in zip(matrix.feature_names, matrix.feature_types) if t == "Gene Expression"]
    tx = sdata.read_xenium_transcripts(root / "transcripts.csv.gz")
    want = sdata.xenium_cell_counts(tx, nuclei.ids, genes, nucleus_only=True)
    assert list(adata.obs_names) == nuclei.ids and list(adata.var_names) == genes
    np.testing.assert_array_equal(adata.X.toarray(), want.numpy())
    np.testing.assert_array_equal(adata.obs["n_counts"].to_numpy(), want.sum(1).numpy())

    types = adata.obs["cell_type"].to_numpy()
    labelled = types >= 0
    assert set(types[labelled]) == set(range(8)) and (want.sum(1).numpy()[labelled] >= 3).all()
    assert (want.sum(1).numpy()[~labelled] < 3).all() and summary["labelled"] == labelled.sum()

    # DAPI mean per nucleus against NumPy over the same rasterised mask.
    dapi = sdata.read_image_planes(root / "morphology_focus.ome.tif")[0].numpy().astype(np.float64)
    mask = sdata.rasterize_polygons(nuclei.vertices, nuclei.offsets, *dapi.shape, 1.70, (995.0, 998.0)).numpy()
    P = len(nuclei.ids)
    n_px = np.bincount(mask.ravel(), minlength=P + 1)[1:]
    sums = np.bincount(mask.ravel(), weights=dapi.ravel(), minlength=P + 1)[1:]
    np.testing.assert_array_equal(adata.obs["nucleus_px"].to_numpy(), n_px)
    seen = n_px > 0
    np.testing.assert_allclose(adata.obs["dapi_mean"].to_numpy()[seen], sums[seen] / n_px[seen], rtol=1e-5)
    assert adata.obsm["spatial"].shape == (P, 2)

    # The file is also readable by stx's own reader.
    back = sdata.read_h5ad(tmp_path / "nuclei.h5ad", dense=True)
    np.testing.assert_array_equal(back.X.numpy(), want.numpy())


@pytest.mark.realdata
def test_wrong_registration_is_flagged_and_outputs_are_kept(stx_data, tmp_path, capsys):
    script = load_script()
    root = str(stx_data / XENIUM)
    assert script.main([root, "--out", str(tmp_path), "--pixel-size", "1.70", "--origin", "955", "958"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["dapi_contrast"] < 1.3
    assert "check --pixel-size and --origin" in capsys.readouterr().err
    before = {n: (tmp_path / n).read_bytes() for n in script.OUTPUTS}
    assert script.main([root, "--out", str(tmp_path), *REGISTRATION]) == 2
    assert "already holds nuclei.h5ad, nuclei.png, summary.json" in capsys.readouterr().err
    assert {n: (tmp_path / n).read_bytes() for n in script.OUTPUTS} == before
    assert script.main([root, "--out", str(tmp_path), "--force", *REGISTRATION]) == 0
    assert json.loads((tmp_path / "summary.json").read_text())["dapi_contrast"] > 2.0


def test_bad_arguments_are_clear_errors(tmp_path, capsys):
    script = load_script()
    assert script.main([str(tmp_path / "nope"), "--out", str(tmp_path / "o")]) == 2
    assert "is not a folder" in capsys.readouterr().err
    assert script.main([str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "is it a Xenium output folder" in capsys.readouterr().err
    assert script.main([str(tmp_path), "--out", str(tmp_path / "o"), "--pixel-size", "0"]) == 2
    assert "--pixel-size must be positive" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()

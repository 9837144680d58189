"""CosMx: label-mask TIFFs and the transcript table against PIL/pandas on the shared CosMx crop,
their alignment (transcripts fall in the mask cell they are assigned to), per-cell counts and the
per-cell readout through label_pool, and bad files."""
import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

import stx
import stx.data as sdata

COSMX = "cosmx-giotto-mini"
# The crop of each FOV inside the 5472 x 3648 px field: mask column = x_local - x0, and the mask's
# rows run against y_local (row = 3648 - y_local), CosMx's image/local-coordinate convention.
CROP_X0 = {2: 4800.0, 3: 0.0}
FOV_HEIGHT = 3648.0


@pytest.mark.realdata
@pytest.mark.parametrize("fov,n_labels", [(2, 67), (3, 53)])
def test_label_mask_matches_pil(stx_data, fov, n_labels):
    path = stx_data / COSMX / "CellLabels" / f"CellLabels_F00{fov}.tif"
    mask = sdata.read_label_mask(path)
    ref = np.array(Image.open(path))  # float32 samples holding integers
    assert mask.dtype == torch.int64 and mask.shape == ref.shape == (648, 672)
    assert torch.equal(mask, torch.from_numpy(ref.astype(np.int64)))
    assert len(mask.unique()) - 1 == n_labels


@pytest.mark.realdata
def test_transcripts_match_pandas_and_counts_match_crosstab(stx_data):
    path = stx_data / COSMX / "Lung12_tx_file.csv"
    tx = sdata.read_cosmx_transcripts(path)
    ref = pd.read_csv(path, dtype={"CellComp": str})
    assert tx.fov.tolist() == ref["fov"].tolist() and tx.cell_id.tolist() == ref["cell_ID"].tolist()
    assert torch.equal(tx.xy_global_px, torch.tensor(ref[["x_global_px", "y_global_px"]].to_numpy()))
    assert torch.equal(tx.xy_local_px, torch.tensor(ref[["x_local_px", "y_local_px"]].to_numpy()))
    assert tx.z.tolist() == ref["z"].tolist()
    assert [tx.genes[i] for i in tx.gene.tolist()] == ref["target"].tolist()
    assert [tx.compartments[i] for i in tx.compartment.tolist()] == ref["CellComp"].tolist()
    assert tx.genes == list(dict.fromkeys(ref["target"]))  # order of first appearance
    for fov in (2, 3):
        counts = sdata.cosmx_cell_counts(tx, fov)
        sub = ref[ref["fov"] == fov]
        table = pd.crosstab(sub["cell_ID"], sub["target"]).reindex(columns=tx.genes, fill_value=0)
        expected = np.zeros((sub["cell_ID"].max() + 1, len(tx.genes)), dtype=np.int64)
        expected[table.index.to_numpy()] = table.to_numpy()
        assert torch.equal(counts, torch.from_numpy(expected))
    assert sdata.cosmx_cell_counts(tx, 2, 3000).shape == (3000, len(tx.genes))
    assert sdata.cosmx_cell_counts(tx, 99).shape == (0, len(tx.genes))  # no transcripts in that FOV


@pytest.mark.realdata
@pytest.mark.parametrize("fov", [2, 3])
def test_assigned_transcripts_fall_in_their_mask_cell(stx_data, fov):
    tx = sdata.read_cosmx_transcripts(stx_data / COSMX / "Lung12_tx_file.csv")
    mask = sdata.read_label_mask(stx_data / COSMX / "CellLabels" / f"CellLabels_F00{fov}.tif")
    sel = (tx.fov == fov) & (tx.cell_id > 0)
    xy, cell = tx.xy_local_px[sel], tx.cell_id[sel]
    col = (xy[:, 0] - CROP_X0[fov]).floor().long()
    row = (FOV_HEIGHT - xy[:, 1]).floor().long()
    inside = (col >= 0) & (col < mask.shape[1]) & (row >= 0) & (row < mask.shape[0])
    assert inside.float().mean() > 0.99
    agree = (mask[row[inside], col[inside]] == cell[inside]).float().mean()
    assert agree > 0.95  # a row-flipped or transposed mask would agree almost nowhere
    # Every cell with transcripts is a label of the mask, so counts and label_pool rows line up.
    assert set(cell.unique().tolist()) <= set(mask.unique().tolist())


@pytest.mark.realdata
def test_per_cell_readout_of_the_composite_image(stx_data):
    mask = sdata.read_label_mask(stx_data / COSMX / "CellLabels" / "CellLabels_F002.tif")
    image = sdata.read_image(stx_data / COSMX / "CellComposite" / "CellComposite_F002.jpg")  # [H, W, 3] uint8
    assert image.shape[:2] == mask.shape
    dense = image.permute(2, 0, 1)[None].double()
    K = int(mask.max()) + 1
    mean, count = stx.ops.label_pool(dense, mask[None], K, "mean", return_count=True)
    for k in mask.unique()[1:].tolist()[:10]:
        sel = mask == k
        assert count[0, k] == int(sel.sum())
        torch.testing.assert_close(mean[0, k], dense[0][:, sel].mean(1), rtol=0, atol=1e-9)


def save_tiff(path, array, mode=None):
    Image.fromarray(array, mode).save(path)
    return path


def test_label_mask_types_and_bad_masks(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 300, (37, 53))
    for dtype in (np.uint8, np.uint16, np.int32, np.float32):
        ref = labels.astype(dtype) if dtype != np.uint8 else (labels % 256).astype(np.uint8)
        got = sdata.read_label_mask(save_tiff(tmp_path / f"m_{np.dtype(dtype).name}.tif", ref))
        assert torch.equal(got, torch.from_numpy(ref.astype(np.int64)))
    frac = labels.astype(np.float32)
    frac[5, 7] = 2.5
    with pytest.raises(ValueError, match=r"pixel \(row 5, col 7\) is not a non-negative integer label"):
        sdata.read_label_mask(save_tiff(tmp_path / "frac.tif", frac))
    neg = labels.astype(np.int32)
    neg[0, 1] = -4
    with pytest.raises(ValueError, match=r"pixel \(row 0, col 1\)"):
        sdata.read_label_mask(save_tiff(tmp_path / "neg.tif", neg))
    nan = labels.astype(np.float32)
    nan[3, 3] = np.nan
    with pytest.raises(ValueError, match=r"pixel \(row 3, col 3\)"):
        sdata.read_label_mask(save_tiff(tmp_path / "nan.tif", nan))
    with pytest.raises(ValueError, match="3 samples per pixel; a label mask has one"):
        sdata.read_label_mask(save_tiff(tmp_path / "rgb.tif", np.zeros((4, 4, 3), np.uint8)))
    png = tmp_path / "m.png"
    Image.fromarray(np.zeros((4, 4), np.uint8)).save(png)
    with pytest.raises(ValueError, match="is not a TIFF file"):
        sdata.read_label_mask(png)
    whole = (tmp_path / "m_uint16.tif").read_bytes()
    (tmp_path / "cut.tif").write_bytes(whole[: len(whole) // 2])
    with pytest.raises(ValueError, match="cut.tif"):
        sdata.read_label_mask(tmp_path / "cut.tif")


def test_bad_transcript_files(tmp_path):
    header = "fov,cell_ID,x_global_px,y_global_px,x_local_px,y_local_px,z,target\n"

    def write(name, text):
        (tmp_path / name).write_text(text)
        return tmp_path / name

    with pytest.raises(ValueError, match="missing column 'target'"):
        sdata.read_cosmx_transcripts(write("a.csv", header.replace(",target", "") + "1,0,1,1,1,1,0\n"))
    with pytest.raises(ValueError, match="line 3 cell_ID"):
        sdata.read_cosmx_transcripts(write("b.csv", header + "1,0,1,1,1,1,0,A\n1,x,1,1,1,1,0,B\n"))
    with pytest.raises(ValueError, match="line 2: cell_ID must be >= 0"):
        sdata.read_cosmx_transcripts(write("c.csv", header + "1,-2,1,1,1,1,0,A\n"))
    with pytest.raises(ValueError, match="line 2: coordinates must be finite"):
        sdata.read_cosmx_transcripts(write("d.csv", header + "1,0,inf,1,1,1,0,A\n"))
    tx = sdata.read_cosmx_transcripts(write("e.csv", header + "1,4,1,1,1,1,0,A\n1,0,1,1,1,1,0,B\n"))
    assert tx.compartments == [] and tx.compartment.tolist() == [-1, -1]
    assert sdata.cosmx_cell_counts(tx, 1).tolist() == [[0, 1], [0, 0], [0, 0], [0, 0], [1, 0]]
    with pytest.raises(ValueError, match="FOV 1 has cell_ID 4 but num_cells is 3"):
        sdata.cosmx_cell_counts(tx, 1, 3)

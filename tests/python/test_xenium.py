"""Xenium cell table / polygon readers and the polygon rasteriser: against pandas on the real
Xenium crop, against a per-pixel even-odd point-in-polygon reference on adversarial polygons, and
the cell-mask readout through label_pool."""
import gzip

import numpy as np
import pandas as pd
import pytest
import torch

import stx
import stx.data as sdata

XENIUM = "xenium-sfe-toy"


@pytest.mark.realdata
def test_cells_match_pandas(stx_data):
    path = stx_data / XENIUM / "cells.csv.gz"
    got = sdata.read_xenium_cells(path)
    ref = pd.read_csv(path)
    assert got.cell_ids == ref["cell_id"].tolist()
    assert torch.equal(got.centroids_um, torch.tensor(ref[["x_centroid", "y_centroid"]].to_numpy()))
    assert got.transcript_counts.tolist() == ref["transcript_counts"].tolist()
    assert torch.equal(got.cell_area, torch.tensor(ref["cell_area"].to_numpy()))
    np.testing.assert_array_equal(got.nucleus_area.numpy(), ref["nucleus_area"].to_numpy())


@pytest.mark.realdata
@pytest.mark.parametrize("name", ["nucleus_boundaries.csv.gz", "cell_boundaries.csv.gz"])
def test_polygons_match_pandas_and_join_the_matrix(stx_data, name):
    path = stx_data / XENIUM / name
    got = sdata.read_xenium_polygons(path)
    ref = pd.read_csv(path)
    assert torch.equal(got.vertices, torch.tensor(ref[["vertex_x", "vertex_y"]].to_numpy()))
    starts = np.flatnonzero(np.r_[True, ref["cell_id"].to_numpy()[1:] != ref["cell_id"].to_numpy()[:-1]])
    assert got.offsets.tolist() == starts.tolist() + [len(ref)]
    assert got.ids == ref["cell_id"].to_numpy()[starts].tolist()
    # Every polygon belongs to a cell of the table and of the cell-feature matrix.
    cells = set(sdata.read_xenium_cells(stx_data / XENIUM / "cells.csv.gz").cell_ids)
    matrix = set(sdata.read_10x_h5(stx_data / XENIUM / "cell_feature_matrix.h5").barcodes)
    assert set(got.ids) <= cells and set(got.ids) <= matrix


@pytest.mark.realdata
def test_nucleus_mask_areas_match_the_cell_table(stx_data):
    cells = sdata.read_xenium_cells(stx_data / XENIUM / "cells.csv.gz")
    nuclei = sdata.read_xenium_polygons(stx_data / XENIUM / "nucleus_boundaries.csv.gz")
    origin = nuclei.vertices.min(0).values.floor() - 1
    extent = nuclei.vertices.max(0).values - origin + 1
    px = 0.5
    mask = sdata.rasterize_polygons(nuclei.vertices, nuclei.offsets, int(extent[1] / px) + 1,
                                    int(extent[0] / px) + 1, px, (float(origin[0]), float(origin[1])))
    pixels = torch.bincount(mask.flatten(), minlength=len(nuclei.ids) + 1)[1:].double()
    # Exact area of each polygon (shoelace) against its pixel count.
    v, o = nuclei.vertices.numpy(), nuclei.offsets.tolist()
    exact = torch.tensor([0.5 * abs(np.dot(x, np.roll(y, -1)) - np.dot(y, np.roll(x, -1)))
                          for x, y in (v[o[p]:o[p + 1]].T for p in range(len(o) - 1))])
    rel = (pixels * px * px - exact).abs() / exact
    assert rel.median() < 0.03 and torch.quantile(rel, 0.95) < 0.1
    # The table's nucleus_area comes from Xenium's segmentation mask (about 7 % above the polygon
    # area on this crop) but tracks the same nuclei.
    row = {cid: i for i, cid in enumerate(cells.cell_ids)}
    area = cells.nucleus_area[[row[c] for c in nuclei.ids]]
    assert torch.corrcoef(torch.stack([pixels, area]))[0, 1] > 0.95


def point_in_polygons(vertices, offsets, height, width, pixel_size, origin, labels=None):
    """Per-pixel even-odd test (crossings strictly right of the centre), last polygon wins."""
    v, o = vertices.double().numpy(), offsets.tolist()
    xc = origin[0] + (np.arange(width) + 0.5) * pixel_size
    yc = origin[1] + (np.arange(height) + 0.5) * pixel_size
    X, Y = np.meshgrid(xc, yc)
    out = np.zeros((height, width), dtype=np.int64)
    for p in range(len(o) - 1):
        poly = v[o[p]:o[p + 1]]
        if len(poly) < 3:
            continue
        inside = np.zeros_like(X, dtype=bool)
        for (x1, y1), (x2, y2) in zip(poly, np.roll(poly, -1, axis=0)):
            spans = (y1 <= Y) != (y2 <= Y)
            with np.errstate(divide="ignore", invalid="ignore"):
                xs = x1 + (Y - y1) * (x2 - x1) / (y2 - y1)
            inside ^= spans & (xs > X)
        out[inside] = p + 1 if labels is None else labels[p]
    return torch.from_numpy(out)


def star(cx, cy, r_out, r_in, n, phase=0.0):
    a = phase + np.arange(2 * n) * np.pi / n
    r = np.where(np.arange(2 * n) % 2 == 0, r_out, r_in)
    return np.stack([cx + r * np.cos(a), cy + r * np.sin(a)], 1)


def test_rasterize_matches_point_in_polygon_reference():
    rng = np.random.default_rng(0)
    polys = [star(20.3, 15.7, 9, 3, 5),                        # concave
             star(28.1, 18.2, 7, 6.5, 9, 0.3),                 # overlaps the first: later wins
             np.array([[-5.0, -5.0], [6.2, -3.0], [3.3, 7.7]]),  # partly outside the image
             np.array([[10.0, 2.0], [14.0, 2.0], [14.0, 6.0], [10.0, 6.0], [10.0, 2.0]]),  # closed explicitly
             np.array([[35.0, 30.0], [36.0, 31.0]]),           # fewer than 3 vertices: nothing
             np.array([[100.0, 100.0], [120.0, 100.0], [110.0, 120.0]]),  # fully outside
             np.array([[2.0, 20.0], [12.0, 30.0], [2.0, 30.0], [12.0, 20.0]]),  # self-intersecting bow tie
             np.array([[30.5, 2.5], [34.5, 2.5], [34.5, 5.5], [30.5, 5.5]])]  # edges through pixel centres
    polys += [star(*rng.uniform(0, 40, 2), rng.uniform(2, 6), rng.uniform(0.5, 2), int(rng.integers(3, 8)),
                   rng.uniform(0, 6)) for _ in range(20)]
    vertices = torch.tensor(np.concatenate(polys))
    offsets = torch.tensor(np.cumsum([0] + [len(p) for p in polys]))
    for pixel_size, origin, shape in [(1.0, (0.0, 0.0), (37, 41)), (0.37, (-3.1, 1.9), (90, 120))]:
        got = sdata.rasterize_polygons(vertices, offsets, *shape, pixel_size, origin)
        ref = point_in_polygons(vertices, offsets, *shape, pixel_size, origin)
        assert torch.equal(got, ref)
    labels = torch.arange(len(polys), dtype=torch.int32) * 7 + 3
    got = sdata.rasterize_polygons(vertices, offsets, 37, 41, labels=labels)
    assert torch.equal(got, point_in_polygons(vertices, offsets, 37, 41, 1.0, (0.0, 0.0), labels.tolist()))
    assert sdata.rasterize_polygons(vertices, offsets, 0, 5).shape == (0, 5)


def test_cell_readout_through_label_pool():
    polys = [star(12, 10, 6, 3, 4), star(25, 20, 8, 7, 6), np.array([[0.0, 25.0], [9.0, 25.0], [4.0, 33.0]])]
    vertices = torch.tensor(np.concatenate(polys))
    offsets = torch.tensor(np.cumsum([0] + [len(p) for p in polys]))
    mask = sdata.rasterize_polygons(vertices, offsets, 34, 36)
    dense = torch.randn(1, 5, 34, 36, dtype=torch.float64)
    mean, count = stx.ops.label_pool(dense, mask[None], len(polys) + 1, "mean", return_count=True)
    for k in range(1, len(polys) + 1):
        sel = mask == k
        assert count[0, k] == int(sel.sum()) > 0
        torch.testing.assert_close(mean[0, k], dense[0][:, sel].mean(1), rtol=0, atol=1e-12)


def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def write_truncated_gzip(tmp_path, text):
    """`text` gzipped, cut in the middle of the stream."""
    whole = gzip.compress(text.encode())
    path = tmp_path / "t.csv.gz"
    path.write_bytes(whole[: len(whole) // 2])
    return path


def test_bad_files_name_the_problem(tmp_path):
    with pytest.raises(ValueError, match="missing column 'nucleus_area'"):
        sdata.read_xenium_cells(write(tmp_path, "c.csv", "cell_id,x_centroid,y_centroid,transcript_counts,cell_area\n"
                                                         "a,1,2,3,4\n"))
    header = "cell_id,x_centroid,y_centroid,transcript_counts,cell_area,nucleus_area\n"
    with pytest.raises(ValueError, match="line 3: duplicate cell_id 'a'"):
        sdata.read_xenium_cells(write(tmp_path, "d.csv", header + "a,1,2,3,4,5\na,1,2,3,4,5\n"))
    with pytest.raises(ValueError, match="line 2 x_centroid"):
        sdata.read_xenium_cells(write(tmp_path, "e.csv", header + "a,one,2,3,4,5\n"))
    poly = "cell_id,vertex_x,vertex_y\n"
    with pytest.raises(ValueError, match="line 8: the vertices of cell 'a' are not consecutive"):
        sdata.read_xenium_polygons(write(tmp_path, "p.csv", poly + "a,0,0\na,1,0\na,1,1\nb,5,5\nb,6,5\nb,6,6\na,0,1\n"))
    with pytest.raises(ValueError, match="polygon 'b' has fewer than 3 vertices"):
        sdata.read_xenium_polygons(write(tmp_path, "q.csv", poly + "a,0,0\na,1,0\na,1,1\nb,5,5\nb,6,5\n"))
    with pytest.raises(ValueError, match="line 3 vertex_y"):
        sdata.read_xenium_polygons(write(tmp_path, "r.csv", poly + "a,0,0\na,1,\n"))
    truncated = write_truncated_gzip(tmp_path, poly + "".join(f"a,{i},{i % 3}\n" for i in range(2000)))
    with pytest.raises(ValueError, match="t.csv.gz"):
        sdata.read_xenium_polygons(truncated)
    with pytest.raises(ValueError, match="not.csv"):
        sdata.read_xenium_cells(tmp_path / "not.csv")

    v, o = torch.zeros(3, 2, dtype=torch.float64), torch.tensor([0, 3])
    with pytest.raises(ValueError, match="vertices must be \\[V, 2\\]"):
        sdata.rasterize_polygons(torch.zeros(3, 3), o, 4, 4)
    with pytest.raises(ValueError, match="offsets must start at 0 and end at V=3"):
        sdata.rasterize_polygons(v, torch.tensor([0, 2]), 4, 4)
    with pytest.raises(ValueError, match="offsets must be non-decreasing"):
        sdata.rasterize_polygons(torch.zeros(4, 2), torch.tensor([0, 3, 1, 4]), 4, 4)
    with pytest.raises(ValueError, match="offsets must be a 1-D int64"):
        sdata.rasterize_polygons(v, o.int(), 4, 4)
    with pytest.raises(ValueError, match="pixel_size must be positive"):
        sdata.rasterize_polygons(v, o, 4, 4, 0.0)
    with pytest.raises(ValueError, match="vertices contain NaN"):
        sdata.rasterize_polygons(torch.full((3, 2), float("nan")), o, 4, 4)
    with pytest.raises(ValueError, match="labels must be an integer tensor"):
        sdata.rasterize_polygons(v, o, 4, 4, labels=torch.ones(1))
    with pytest.raises(ValueError, match="labels must be \\[P\\]=\\[1\\]"):
        sdata.rasterize_polygons(v, o, 4, 4, labels=torch.ones(2, dtype=torch.long))


@pytest.mark.realdata
def test_transcripts_match_pandas(stx_data):
    path = stx_data / XENIUM / "transcripts.csv.gz"
    got = sdata.read_xenium_transcripts(path)
    ref = pd.read_csv(path)
    assert got.transcript_id.tolist() == ref["transcript_id"].tolist()
    assert torch.equal(got.xyz_um, torch.tensor(ref[["x_location", "y_location", "z_location"]].to_numpy()))
    assert torch.equal(got.qv, torch.tensor(ref["qv"].to_numpy()))
    assert torch.equal(got.nucleus_distance, torch.tensor(ref["nucleus_distance"].to_numpy()))
    assert got.overlaps_nucleus.tolist() == (ref["overlaps_nucleus"] == 1).tolist()
    assert [got.genes[g] for g in got.gene.tolist()] == ref["feature_name"].tolist()
    cell_names = [got.cell_ids[c] if c >= 0 else "UNASSIGNED" for c in got.cell.tolist()]
    assert cell_names == ref["cell_id"].tolist() and (got.cell == -1).sum() == (ref["cell_id"] == "UNASSIGNED").sum() > 0
    assert got.genes == list(dict.fromkeys(ref["feature_name"])) and "UNASSIGNED" not in got.cell_ids


@pytest.mark.realdata
@pytest.mark.parametrize("min_qv,nucleus_only", [(20.0, False), (40.0, False), (20.0, True), (float("-inf"), True)])
def test_cell_counts_match_a_pandas_crosstab(stx_data, min_qv, nucleus_only):
    tx_path = stx_data / XENIUM / "transcripts.csv.gz"
    cells = sdata.read_xenium_cells(stx_data / XENIUM / "cells.csv.gz")
    matrix = sdata.read_10x_h5(stx_data / XENIUM / "cell_feature_matrix.h5")
    got = sdata.xenium_cell_counts(sdata.read_xenium_transcripts(tx_path), cells.cell_ids, matrix.feature_names,
                                   min_qv, nucleus_only)
    ref = pd.read_csv(tx_path)
    ref = ref[(ref["qv"] >= min_qv) & (ref["cell_id"] != "UNASSIGNED") & (ref["overlaps_nucleus"] == 1 if nucleus_only else True)]
    table = pd.crosstab(ref["cell_id"], ref["feature_name"]).reindex(index=cells.cell_ids, columns=matrix.feature_names,
                                                                     fill_value=0)
    assert got.dtype == torch.int64 and got.shape == (len(cells.cell_ids), len(matrix.feature_names))
    assert torch.equal(got, torch.tensor(table.to_numpy()))
    assert 0 < got.sum() <= len(ref)  # the 3 cropped-away cells' transcripts are not counted


@pytest.mark.realdata
def test_cell_counts_are_a_subsample_of_the_cell_feature_matrix(stx_data):
    # The crop ships a subsample of the run's transcripts: per cell and gene, never more than the
    # matrix Xenium built from all of them, with rows and columns joined by name.
    cells = sdata.read_xenium_cells(stx_data / XENIUM / "cells.csv.gz")
    matrix = sdata.read_10x_h5(stx_data / XENIUM / "cell_feature_matrix.h5", dense=True)
    tx = sdata.read_xenium_transcripts(stx_data / XENIUM / "transcripts.csv.gz")
    counts = sdata.xenium_cell_counts(tx, matrix.barcodes, matrix.feature_names)
    dense = matrix.counts if matrix.counts.shape[0] == len(matrix.barcodes) else matrix.counts.T
    assert dense.shape == counts.shape and (counts <= dense.to(torch.int64)).all() and counts.sum() > 5000
    assert torch.equal(sdata.xenium_cell_counts(tx, cells.cell_ids, matrix.feature_names).sum(1) > 0,
                       counts[[matrix.barcodes.index(c) for c in cells.cell_ids]].sum(1) > 0)


@pytest.mark.realdata
def test_assigned_transcripts_lie_in_their_cell_polygon(stx_data):
    from matplotlib.path import Path

    tx = sdata.read_xenium_transcripts(stx_data / XENIUM / "transcripts.csv.gz")
    polys = sdata.read_xenium_polygons(stx_data / XENIUM / "cell_boundaries.csv.gz")
    where = {cid: Path(polys.vertices[polys.offsets[p]:polys.offsets[p + 1]].numpy()) for p, cid in enumerate(polys.ids)}
    inside = [where[tx.cell_ids[c]].contains_point(tx.xyz_um[t, :2].tolist())
              for t, c in enumerate(tx.cell.tolist()) if c >= 0 and tx.cell_ids[c] in where]
    assert len(inside) > 5000 and np.mean(inside) > 0.97  # y/x swapped or rows shifted: far below


def test_transcripts_bad_files_and_arguments(tmp_path):
    header = "transcript_id,cell_id,overlaps_nucleus,feature_name,x_location,y_location,z_location,qv\n"
    ok = header + "1,a-1,1,G1,1.0,2.0,3.0,40\n2,UNASSIGNED,0,G2,1.5,2.5,3.5,10\n3,-1,0,G1,0,0,0,25.5\n4,b-1,0,G2,9,9,9,30\n"
    tx = sdata.read_xenium_transcripts(write(tmp_path, "ok.csv", ok))
    assert tx.cell.tolist() == [0, -1, -1, 1] and tx.cell_ids == ["a-1", "b-1"] and tx.nucleus_distance.isnan().all()
    counts = sdata.xenium_cell_counts(tx, ["b-1", "c-1", "a-1"], ["G2", "G1", "G3"])
    assert counts.tolist() == [[1, 0, 0], [0, 0, 0], [0, 1, 0]]
    assert sdata.xenium_cell_counts(tx, ["a-1", "b-1"], nucleus_only=True).tolist() == [[1, 0], [0, 0]]
    assert sdata.xenium_cell_counts(tx, ["a-1", "b-1"], min_qv=35).tolist() == [[1, 0], [0, 0]]
    with pytest.raises(ValueError, match="cell_ids repeats 'a-1'"):
        sdata.xenium_cell_counts(tx, ["a-1", "a-1"])
    with pytest.raises(ValueError, match="genes repeats 'G1'"):
        sdata.xenium_cell_counts(tx, ["a-1"], ["G1", "G1"])
    with pytest.raises(ValueError, match="min_qv is NaN"):
        sdata.xenium_cell_counts(tx, ["a-1"], min_qv=float("nan"))
    with pytest.raises(ValueError, match="missing column 'qv'"):
        sdata.read_xenium_transcripts(write(tmp_path, "a.csv", header.replace(",qv", "") + "1,a,1,G,1,2,3\n"))
    with pytest.raises(ValueError, match="line 2: overlaps_nucleus must be 0 or 1, got 2"):
        sdata.read_xenium_transcripts(write(tmp_path, "b.csv", header + "1,a,2,G,1,2,3,40\n"))
    with pytest.raises(ValueError, match="line 3: empty cell_id"):
        sdata.read_xenium_transcripts(write(tmp_path, "c.csv", header + "1,a,1,G,1,2,3,40\n2,,1,G,1,2,3,40\n"))
    with pytest.raises(ValueError, match="line 2: location must be finite"):
        sdata.read_xenium_transcripts(write(tmp_path, "d.csv", header + "1,a,1,G,inf,2,3,40\n"))
    with pytest.raises(ValueError, match="line 2 qv"):
        sdata.read_xenium_transcripts(write(tmp_path, "e.csv", header + "1,a,1,G,1,2,3,high\n"))
    with pytest.raises(ValueError, match="line 2: qv is NaN"):
        sdata.read_xenium_transcripts(write(tmp_path, "f.csv", header + "1,a,1,G,1,2,3,nan\n"))
    truncated = write_truncated_gzip(tmp_path, header + "".join(f"{i},a,1,G,1,2,3,40\n" for i in range(5000)))
    with pytest.raises(ValueError, match="t.csv.gz"):
        sdata.read_xenium_transcripts(truncated)

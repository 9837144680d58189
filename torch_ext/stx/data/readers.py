"""Readers for spatial-transcriptomics formats (C++ core in ``datasets/``, bound as ``stx._C.data``).

Every reader returns objects whose tensors are ready for the operators (or, with ``as_anndata=True``,
an ``anndata.AnnData`` in the scanpy/squidpy layout sharing their memory, see ``stx.data.anndata_io``): ``counts`` is
``[spots, genes]`` (sparse CSR by default, ``dense=True`` for strided) in ``dtype`` (``float32`` by
default, ``"keep"`` keeps the stored type), ``coords_px`` is float32 ``[N, 2]`` as (x, y) in
full-resolution image pixels. Bad input raises ``ValueError`` naming the file, field and expectation.
"""
from __future__ import annotations

import os
from typing import Sequence, Union

import torch

from stx import _C
from stx.data.anndata_io import from_anndata, to_anndata

_core = _C.data
PathLike = Union[str, os.PathLike]
DType = Union[torch.dtype, str]

FeatureMatrix = _core.FeatureMatrix
SpatialSample = _core.SpatialSample
AnnData = _core.AnnData
DataFrame = _core.DataFrame
Column = _core.Column
CellTable = _core.CellTable
Polygons = _core.Polygons
Transcripts = _core.Transcripts
XeniumTranscripts = _core.XeniumTranscripts

__all__ = [
    "FeatureMatrix", "SpatialSample", "AnnData", "DataFrame", "Column",
    "read_10x_h5", "read_10x_mtx", "write_10x_h5", "read_visium", "read_legacy_st", "read_h5ad", "read_hest",
    "to_pandas", "open_image", "CellTable", "Polygons", "read_xenium_cells", "read_xenium_polygons",
    "rasterize_polygons", "Transcripts", "read_cosmx_transcripts", "cosmx_cell_counts",
    "XeniumTranscripts", "read_xenium_transcripts", "xenium_cell_counts", "to_anndata", "from_anndata",
]


def _dtype(dtype: DType) -> str:
    return dtype if isinstance(dtype, str) else str(dtype).removeprefix("torch.")


def _result(value, as_anndata: bool):
    """The reader's object, or with ``as_anndata=True`` an ``anndata.AnnData`` in the scanpy/squidpy
    layout sharing its memory (see ``stx.data.to_anndata``)."""
    return to_anndata(value) if as_anndata else value


def read_10x_h5(path: PathLike, dense: bool = False, dtype: DType = torch.float32, as_anndata: bool = False):
    """A 10x feature-barcode HDF5 file (Cell Ranger 2 ``/<genome>`` or 3+/Space Ranger/Xenium ``/matrix``)."""
    return _result(_core.read_10x_h5(os.fspath(path), dense, _dtype(dtype)), as_anndata)


def read_10x_mtx(folder: PathLike, dense: bool = False, dtype: DType = torch.float32, as_anndata: bool = False):
    """A 10x MatrixMarket folder (matrix.mtx, barcodes.tsv, features.tsv/genes.tsv; each may be .gz)."""
    return _result(_core.read_10x_mtx(os.fspath(folder), dense, _dtype(dtype)), as_anndata)


def write_10x_h5(path: PathLike, counts: torch.Tensor, barcodes, feature_ids, feature_names) -> None:
    """Writes ``counts`` ``[barcodes, features]`` (dense or CSR) in the Cell Ranger 3 ``/matrix`` layout."""
    _core.write_10x_h5(os.fspath(path), counts, list(barcodes), list(feature_ids), list(feature_names))


def read_visium(folder: PathLike, dense: bool = False, dtype: DType = torch.float32, as_anndata: bool = False):
    """A Space Ranger ``outs/`` folder (1.x or >= 2.0 positions file), joined to the filtered matrix."""
    return _result(_core.read_visium(os.fspath(folder), dense, _dtype(dtype)), as_anndata)


def read_legacy_st(counts: PathLike, spots: PathLike, image: PathLike | None = None, dense: bool = False,
                   dtype: DType = torch.float32, as_anndata: bool = False):
    """Legacy ST: counts TSV(.gz) with ``<x>x<y>`` rows, spot selection TSV with pixel_x/pixel_y, H&E image."""
    return _result(_core.read_legacy_st(os.fspath(counts), os.fspath(spots), os.fspath(image) if image else "",
                                        dense, _dtype(dtype)), as_anndata)


def read_h5ad(path: PathLike, dense: bool = False, dtype: DType = "keep", layers: bool = True,
              raw: bool = True, as_anndata: bool = False):
    """An AnnData ``.h5ad`` file: X (dense/CSR/CSC), obs/var, layers, obsm and raw."""
    return _result(_core.read_h5ad(os.fspath(path), dense, _dtype(dtype), layers, raw), as_anndata)


def read_hest(folder: PathLike, sample_id: str, dense: bool = False, dtype: DType = torch.float32,
              as_anndata: bool = False):
    """A HEST-1k sample: ``st/<id>.h5ad``, ``wsis/<id>.tif``, ``metadata/<id>.json``, ``patches/<id>.h5``."""
    return _result(_core.read_hest(os.fspath(folder), sample_id, dense, _dtype(dtype)), as_anndata)


def to_pandas(frame: DataFrame):
    """An obs/var ``DataFrame`` as a ``pandas.DataFrame`` (categoricals become ``pandas.Categorical``)."""
    import pandas as pd

    data = {}
    names = list(frame.column_order) + [c for c in frame.columns if c not in frame.column_order]
    for name in names:
        col = frame.columns[name]
        if col.kind == "categorical":
            data[name] = pd.Categorical.from_codes(col.values.numpy(), categories=list(col.strings), ordered=col.ordered)
        elif col.kind == "string":
            data[name] = list(col.strings)
        else:
            data[name] = col.values.numpy()
    return pd.DataFrame(data, index=list(frame.index) if frame.index else None)


def open_image(sample: SpatialSample):
    """The sample's image as a ``stx.data.SlideReader`` with its µm/px set when the sample knows it,
    and the spot centres in that image's pixels: ``(slide, coords_px * image_scale)``."""
    from stx.data.slides import SlideReader

    if not sample.image_path:
        raise ValueError(f"sample {sample.sample_id!r} has no image")
    mpp = sample.microns_per_pixel / sample.image_scale
    slide = SlideReader(sample.image_path, mpp=None if mpp != mpp else mpp)  # NaN: let the file say
    return slide, sample.coords_px * sample.image_scale


def read_xenium_cells(path: PathLike) -> CellTable:
    """A Xenium ``cells.csv[.gz]``: ``cell_ids``, ``centroids_um`` [N, 2] float64 (x, y),
    ``transcript_counts`` [N] int64, ``cell_area`` and ``nucleus_area`` [N] float64 (µm², NaN where empty).
    Join to ``read_10x_h5(".../cell_feature_matrix.h5").barcodes`` on the cell id."""
    return _core.read_xenium_cells(os.fspath(path))


def read_xenium_polygons(path: PathLike) -> Polygons:
    """Xenium ``cell_boundaries``/``nucleus_boundaries.csv[.gz]`` as a ragged array: polygon ``p`` (cell
    ``ids[p]``) has ``vertices[offsets[p]:offsets[p + 1]]`` (float64 (x, y), µm)."""
    return _core.read_xenium_polygons(os.fspath(path))


def rasterize_polygons(vertices: torch.Tensor, offsets: torch.Tensor, height: int, width: int,
                       pixel_size: float = 1.0, origin: tuple[float, float] = (0.0, 0.0),
                       labels: torch.Tensor | None = None) -> torch.Tensor:
    """Integer label mask [height, width] (int64) for ``stx.ops.label_pool``: pixel (r, c), centred at
    ``origin + ((c + 0.5), (r + 0.5)) * pixel_size``, gets ``labels[p]`` (default ``p + 1``) of the last
    polygon whose interior (even-odd rule) contains its centre, else 0."""
    return _core.rasterize_polygons(vertices, offsets, int(height), int(width), float(pixel_size),
                                    float(origin[0]), float(origin[1]), labels)


def read_xenium_transcripts(path: PathLike) -> XeniumTranscripts:
    """A Xenium ``transcripts.csv[.gz]``, one row per decoded transcript: ``transcript_id``, ``cell`` (index
    into ``cell_ids``, -1 = UNASSIGNED), ``overlaps_nucleus`` (bool), ``gene`` (index into ``genes``, which
    include control probes), ``xyz_um`` [T, 3] float64, ``qv`` and ``nucleus_distance`` (NaN if absent)."""
    return _core.read_xenium_transcripts(os.fspath(path))


def xenium_cell_counts(transcripts: XeniumTranscripts, cell_ids: Sequence[str], genes: Sequence[str] | None = None,
                       min_qv: float = 20.0, nucleus_only: bool = False) -> torch.Tensor:
    """Counts per cell, int64 [len(cell_ids), len(genes)]: row c is cell ``cell_ids[c]`` (e.g. the cell
    table's order), column g is feature ``genes[g]`` (default ``transcripts.genes``). Only transcripts with
    ``qv >= min_qv`` (Xenium's cell-feature matrix uses 20) and, with ``nucleus_only``, overlapping the
    nucleus count; transcripts of cells or features outside the lists are left out."""
    return _core.xenium_cell_counts(transcripts, list(cell_ids), None if genes is None else list(genes),
                                    float(min_qv), bool(nucleus_only))


def read_cosmx_transcripts(path: PathLike) -> Transcripts:
    """A CosMx ``*_tx_file.csv[.gz]``: per transcript ``fov``, ``cell_id`` (0 = unassigned), ``xy_global_px``,
    ``xy_local_px`` [T, 2] float64, ``z``, ``gene`` (index into ``genes``) and ``compartment`` (index into
    ``compartments``, -1 without a ``CellComp`` column)."""
    return _core.read_cosmx_transcripts(os.fspath(path))


def cosmx_cell_counts(transcripts: Transcripts, fov: int, num_cells: int | None = None) -> torch.Tensor:
    """Transcript counts per cell of one FOV, int64 [num_cells, genes]: row k is cell_ID k, the label k of
    that FOV's ``CellLabels`` mask (row 0 = unassigned transcripts)."""
    return _core.cosmx_cell_counts(transcripts, int(fov), num_cells)


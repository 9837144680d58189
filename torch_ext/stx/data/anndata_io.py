"""Conversions between stx samples and ``anndata.AnnData`` in the layout scanpy and squidpy read.

``to_anndata`` takes what the readers return (``SpatialSample``, ``FeatureMatrix`` or stx's own
``AnnData``) and gives an ``anndata.AnnData``: ``X`` is the count matrix (``scipy.sparse.csr_matrix``
for a sparse CSR tensor, a NumPy array for a strided one), ``obs_names`` are the barcodes,
``var_names`` the gene names with ``var['gene_ids']``, and for a spatial sample
``obsm['spatial']`` holds the spot centres (x, y) in full-resolution pixels,
``obs['array_row'/'array_col']`` the spot-array position and ``uns['spatial'][library_id]`` the
``images`` (``hires``/``lowres`` decoded to uint8 [H, W, C]), the ``scalefactors`` (the Space Ranger
keys, e.g. ``tissue_hires_scalef``) and ``metadata``. ``uns['stx']`` keeps what that layout has no
place for (the main image, its scale, the other image files, µm/px), so ``from_anndata`` restores
the sample exactly.

The arrays are NumPy views of the tensors (no copy: changing one changes the other), except where
the target needs another type: ``obsm['spatial']`` is float32 as in the sample, CSC matrices become
CSR, and a matrix read into ``anndata`` from a file is converted once on the way back. anndata is an
optional dependency (``pip install stx[anndata]``) imported on first use.
"""
from __future__ import annotations

import math
from typing import Optional, Sequence

import numpy as np
import torch

from stx import _C

__all__ = ["to_anndata", "from_anndata"]

_core = _C.data
_LOADED_IMAGES = ("hires", "lowres")  # the Space Ranger PNGs scanpy keeps in memory


def _anndata():
    try:
        import anndata
        import pandas  # noqa: F401
        import scipy.sparse  # noqa: F401
    except ModuleNotFoundError as error:  # pragma: no cover - depends on the environment
        raise ModuleNotFoundError(f"stx.data.to_anndata/from_anndata need anndata, pandas and scipy ({error.name} is "
                                  "missing): pip install 'stx[anndata]'") from error
    return anndata


def matrix_to_numpy(matrix: torch.Tensor):
    """A [rows, cols] tensor as a NumPy array (strided) or ``scipy.sparse`` CSR/CSC matrix whose
    arrays are views of the tensor's (int64 index arrays are kept, so nothing is copied)."""
    import scipy.sparse as sp

    matrix = matrix.detach()
    if matrix.device.type != "cpu":
        raise ValueError(f"to_anndata: the matrix must be on the CPU, got {matrix.device}")
    if matrix.layout == torch.strided:
        return matrix.numpy()
    if matrix.layout == torch.sparse_coo:
        matrix = matrix.to_sparse_csr()
    if matrix.layout == torch.sparse_csr:
        out, ptr, idx = sp.csr_matrix(tuple(matrix.shape), dtype=_numpy_dtype(matrix)), matrix.crow_indices(), \
            matrix.col_indices()
    elif matrix.layout == torch.sparse_csc:
        out, ptr, idx = sp.csc_matrix(tuple(matrix.shape), dtype=_numpy_dtype(matrix)), matrix.ccol_indices(), \
            matrix.row_indices()
    else:
        raise ValueError(f"to_anndata: unsupported matrix layout {matrix.layout}")
    # Assigning the arrays (rather than passing them to the constructor) keeps int64 indices, so
    # scipy does not downcast them into a copy.
    out.data, out.indices, out.indptr = matrix.values().numpy(), idx.numpy(), ptr.numpy()
    return out


def _numpy_dtype(matrix: torch.Tensor) -> np.dtype:
    return torch.empty((), dtype=matrix.dtype).numpy().dtype


def matrix_to_torch(matrix, argument: str = "X") -> torch.Tensor:
    """A NumPy array or ``scipy.sparse`` matrix as a tensor sharing its memory where torch allows:
    dense -> strided, CSR -> sparse CSR (int32 indices widen to int64), other sparse formats -> CSR."""
    import scipy.sparse as sp

    if sp.issparse(matrix):
        csr = matrix if matrix.format == "csr" else matrix.tocsr()
        values = torch.from_numpy(np.ascontiguousarray(csr.data))
        crow = torch.from_numpy(np.ascontiguousarray(csr.indptr, dtype=np.int64))
        col = torch.from_numpy(np.ascontiguousarray(csr.indices, dtype=np.int64))
        # The arrays come from outside stx: check them (one pass) rather than trust them. The context
        # opts in explicitly, so torch does not warn that checks are implicitly off.
        with torch.sparse.check_sparse_tensor_invariants(enable=True):
            return torch.sparse_csr_tensor(crow, col, values, size=tuple(csr.shape))
    array = np.asarray(matrix)
    if array.ndim != 2:
        raise ValueError(f"from_anndata: {argument} must be 2-D, got shape {array.shape}")
    if array.dtype == object or not (np.issubdtype(array.dtype, np.number) or array.dtype == np.bool_):
        raise ValueError(f"from_anndata: {argument} must be numeric, got dtype {array.dtype}")
    if not array.flags.writeable:  # torch.from_numpy needs a writable buffer
        array = array.copy()
    return torch.from_numpy(array)


def _frame(frame) -> "object":
    from stx.data.readers import to_pandas

    return to_pandas(frame)


def _spatial_to_anndata(sample, images: Sequence[str], library_id: Optional[str]):
    import pandas as pd

    anndata = _anndata()
    library_id = library_id or sample.sample_id or "library"
    obs = pd.DataFrame(index=pd.Index(list(sample.barcodes), dtype=object))
    array = sample.array_coords.numpy()
    obs["array_row"], obs["array_col"] = array[:, 0], array[:, 1]
    var = pd.DataFrame({"gene_ids": list(sample.gene_ids)}, index=pd.Index(list(sample.gene_names), dtype=object))
    loaded = {kind: _C.slides.read_image(sample.images[kind]).numpy()
              for kind in images if kind in sample.images}
    spatial = {
        "images": loaded,
        "scalefactors": dict(sample.scalefactors),
        "metadata": {"source_image_path": sample.image_path},
    }
    stx_meta = {"sample_id": sample.sample_id, "image_path": sample.image_path, "image_scale": sample.image_scale,
                "images": dict(sample.images), "microns_per_pixel": sample.microns_per_pixel}
    adata = anndata.AnnData(X=matrix_to_numpy(sample.counts), obs=obs, var=var,
                            obsm={"spatial": sample.coords_px.numpy()},
                            uns={"spatial": {library_id: spatial}, "stx": stx_meta})
    return adata


def _matrix_to_anndata(matrix):
    import pandas as pd

    anndata = _anndata()
    var = pd.DataFrame({"gene_ids": list(matrix.feature_ids), "feature_types": list(matrix.feature_types),
                        "genome": list(matrix.genomes)}, index=pd.Index(list(matrix.feature_names), dtype=object))
    obs = pd.DataFrame(index=pd.Index(list(matrix.barcodes), dtype=object))
    return anndata.AnnData(X=matrix_to_numpy(matrix.counts), obs=obs, var=var)


def _h5ad_to_anndata(data):
    anndata = _anndata()
    obs, var = _frame(data.obs), _frame(data.var)
    raw = None
    if data.raw_X is not None:
        raw_var = _frame(data.raw_var) if data.raw_var is not None else var
        raw = anndata.AnnData(X=matrix_to_numpy(data.raw_X), obs=obs, var=raw_var)
    adata = anndata.AnnData(X=matrix_to_numpy(data.X), obs=obs, var=var,
                            layers={k: matrix_to_numpy(v) for k, v in data.layers.items()},
                            obsm={k: v.numpy() for k, v in data.obsm.items()})
    if raw is not None:
        adata.raw = raw
    return adata


def to_anndata(sample, *, images: Sequence[str] = _LOADED_IMAGES, library_id: Optional[str] = None):
    """``anndata.AnnData`` for a ``SpatialSample`` (Visium, legacy ST, HEST), a ``FeatureMatrix``
    (10x h5/mtx) or stx's ``AnnData`` (``read_h5ad``), sharing the tensors' memory.

    For a spatial sample, ``images`` names the images decoded into ``uns['spatial'][library_id]['images']``
    (default the Space Ranger ``hires`` and ``lowres`` PNGs; whole-slide images stay on disk, their paths
    in ``uns['stx']['images']``); ``library_id`` defaults to ``sample.sample_id``."""
    _anndata()
    if isinstance(sample, _core.SpatialSample):
        return _spatial_to_anndata(sample, tuple(images), library_id)
    if isinstance(sample, _core.FeatureMatrix):
        return _matrix_to_anndata(sample)
    if isinstance(sample, _core.AnnData):
        return _h5ad_to_anndata(sample)
    raise TypeError(f"to_anndata: expected a SpatialSample, FeatureMatrix or stx AnnData, got {type(sample).__name__}")


def _library(adata, library_id: Optional[str]):
    spatial = adata.uns.get("spatial", {})
    if library_id is not None:
        if library_id not in spatial:
            raise ValueError(f"from_anndata: library_id {library_id!r} is not in uns['spatial'] "
                             f"(it has {sorted(spatial)})")
        return library_id, spatial[library_id]
    if len(spatial) > 1:
        raise ValueError(f"from_anndata: uns['spatial'] has several libraries {sorted(spatial)}; pass library_id")
    if len(spatial) == 1:
        return next(iter(spatial.items()))
    return None, {}


def from_anndata(adata, *, library_id: Optional[str] = None, layer: Optional[str] = None,
                 spatial_key: str = "spatial"):
    """A ``stx.data.SpatialSample`` from an ``anndata.AnnData`` in the scanpy/squidpy layout.

    ``counts`` is ``adata.X`` (or ``adata.layers[layer]``) as a tensor sharing its memory (dense stays
    strided, CSR stays CSR with int64 indices), ``coords_px`` is ``obsm[spatial_key]`` (x, y) as
    float32, ``array_coords`` comes from ``obs['array_row'/'array_col']`` (-1 where absent), gene ids
    from ``var['gene_ids']`` (else the names), and the scale factors from
    ``uns['spatial'][library_id]`` (the only library when there is one). An AnnData written by
    :func:`to_anndata` also gets back its image paths and µm/px from ``uns['stx']``."""
    _anndata()
    if layer is None:
        matrix, argument = adata.X, "X"
    elif layer in adata.layers:
        matrix, argument = adata.layers[layer], f"layers[{layer!r}]"
    else:
        raise ValueError(f"from_anndata: layer {layer!r} is not in adata.layers (it has {list(adata.layers)})")
    if matrix is None:
        raise ValueError("from_anndata: adata.X is empty; pass layer=")
    if spatial_key not in adata.obsm:
        raise ValueError(f"from_anndata: obsm[{spatial_key!r}] is missing (it has {list(adata.obsm)}); "
                         "it must hold the spot centres (x, y) in full-resolution pixels")
    coords = np.asarray(adata.obsm[spatial_key])
    if coords.ndim != 2 or coords.shape[1] < 2 or not np.issubdtype(coords.dtype, np.number):
        raise ValueError(f"from_anndata: obsm[{spatial_key!r}] must be numeric [n_obs, 2], got "
                         f"{coords.dtype} {coords.shape}")
    coords = np.ascontiguousarray(coords[:, :2], dtype=np.float32)
    if not coords.flags.writeable:
        coords = coords.copy()
    library, spatial = _library(adata, library_id)
    meta = dict(adata.uns.get("stx", {}))
    array = None
    if "array_row" in adata.obs and "array_col" in adata.obs:
        array = torch.from_numpy(np.stack([adata.obs["array_row"].to_numpy(np.int64),
                                           adata.obs["array_col"].to_numpy(np.int64)], axis=1))
    gene_names = [str(g) for g in adata.var_names]
    gene_ids = [str(g) for g in adata.var["gene_ids"]] if "gene_ids" in adata.var else gene_names
    mpp = float(meta.get("microns_per_pixel", math.nan))
    return _core.SpatialSample(
        sample_id=str(meta.get("sample_id", library or "")),
        counts=matrix_to_torch(matrix, argument),
        barcodes=[str(b) for b in adata.obs_names],
        gene_names=gene_names,
        gene_ids=gene_ids,
        coords_px=torch.from_numpy(coords),
        array_coords=array,
        image_path=str(meta.get("image_path", "")),
        image_scale=float(meta.get("image_scale", 1.0)),
        images={str(k): str(v) for k, v in dict(meta.get("images", {})).items()},
        scalefactors={str(k): float(v) for k, v in dict(spatial.get("scalefactors", {})).items()},
        microns_per_pixel=mpp,
    )

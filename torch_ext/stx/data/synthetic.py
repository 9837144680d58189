"""Synthetic spatial-transcriptomics study with known ground truth (C++ core in ``datasets/synthetic*.cpp``).

Writes, under ``out_dir``: one Visium folder per section (``section_<i>/``: filtered_feature_bc_matrix.h5,
spatial/tissue_positions.csv, scalefactors_json.json, tissue_hires_image.png at full resolution,
tissue_lowres_image.png) with ``ground_truth.h5`` and, when asked for, ``scales/`` (the truth at other
bin/spot sizes), a single-cell reference ``reference.h5ad`` with
``obs["cell_type"]``, and ``study.json``. Deterministic under ``seed``.
"""
from __future__ import annotations

import os
from typing import Any, Dict

from stx import _C

_core = _C.data

__all__ = ["make_synthetic"]


def make_synthetic(out_dir: str | os.PathLike, seed: int = 0, **options: Any) -> Dict[str, Any]:
    """Generates a study; ``options`` are the fields of ``stx._C.data.SyntheticOptions`` (n_sections,
    n_genes, n_cell_types, n_domains, grid ("hex"/"square"), spot_diameter_um, spot_pitch_um,
    microns_per_pixel, image_size_px, cell_spacing_um, umis_per_cell, nb_theta, n_reference_cells,
    nucleus_masks, bin_sizes_um, extra_spot_diameters_um). Returns the paths and metadata (sections,
    cell_types, gene_names, gene_ids).

    ``bin_sizes_um`` (e.g. ``[2, 8, 16]``) and ``extra_spot_diameters_um`` (e.g. ``[100]``), whole
    microns, also write each section's ground truth at those scales: Visium HD-like square bins and
    spots of that diameter at twice its pitch, as Visium folders under ``section_<i>/scales/``
    (``square_008um``, ``spot_100um``) with their own ``ground_truth.h5``; each section's entry then has
    ``scales``: name -> dict(folder, ground_truth, square_bins, size_um, n_regions). See docs/data.md."""
    o = _core.SyntheticOptions()
    o.seed = int(seed)
    for key, value in options.items():
        if not hasattr(o, key):
            raise TypeError(f"make_synthetic: unknown option {key!r}")
        setattr(o, key, value)
    return _core.make_synthetic(os.fspath(out_dir), o)

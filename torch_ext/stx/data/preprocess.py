"""Expression preprocessing (C++ core in ``datasets/preprocess.cpp``): dense or CSR ``[cells, genes]``."""
from __future__ import annotations

from typing import Dict, List, Sequence

import torch

from stx import _C

_core = _C.data

__all__ = ["normalize_total", "highly_variable_genes", "highly_expressed_genes", "match_genes", "align_genes"]


def normalize_total(counts: torch.Tensor, target_sum: float | None = 1e4, log1p: bool = True) -> torch.Tensor:
    """Rows scaled to ``target_sum`` (None: median of non-zero row totals), then ``log1p``."""
    return _core.normalize_total(counts, -1.0 if target_sum is None else float(target_sum), log1p)


def highly_variable_genes(log_normalized: torch.Tensor, n_top_genes: int, n_bins: int = 20) -> Dict[str, torch.Tensor]:
    """scanpy ``flavor="seurat"``: means, dispersions, dispersions_norm, highly_variable (bool mask)."""
    return _core.highly_variable_genes(log_normalized, int(n_top_genes), int(n_bins))


def highly_expressed_genes(counts: torch.Tensor, n_top: int) -> torch.Tensor:
    """Indices of the ``n_top`` genes with the largest mean per-row fraction, most expressed first."""
    return _core.highly_expressed_genes(counts, int(n_top))


def match_genes(query: Sequence[str], ids: Sequence[str], names: Sequence[str]) -> List[int]:
    """Index into (ids, names) of each query (Ensembl id, with or without version, or symbol); -1 if absent."""
    return _core.match_genes(list(query), list(ids), list(names))


def align_genes(counts: torch.Tensor, ids: Sequence[str], names: Sequence[str], target: Sequence[str],
                fill_missing: bool = False) -> torch.Tensor:
    """Columns reordered to ``target``; a missing gene raises unless ``fill_missing`` (zero column)."""
    return _core.align_genes(counts, list(ids), list(names), list(target), fill_missing)

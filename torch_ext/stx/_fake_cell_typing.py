"""Fake kernels of the cell-typing family (cell_type_markers has data-dependent clusters but fixed
output shapes)."""
from __future__ import annotations

import torch

from stx._fake import register_fake


def _cells(op, expr):
    torch._check(expr.dim() == 2, lambda: f"{op}: expr must be 2-D [cells, genes], got {expr.dim()}-D")
    return expr.shape[0]


@register_fake("stx::cell_type_reference")
def _cell_type_reference_fake(expr, ref_expr, ref_labels, num_types, method="centroid", k=15, min_confidence=0.0):
    n = _cells("cell_type_reference", expr)
    return expr.new_empty((n,), dtype=torch.int64), expr.new_empty((n,), dtype=torch.float64)


@register_fake("stx::rank_marker_genes")
def _rank_marker_genes_fake(expr, clusters, num_clusters, top_n=20):
    _cells("rank_marker_genes", expr)
    torch._check(1 <= num_clusters <= 2**20,
                 lambda: f"rank_marker_genes: num_clusters must be in [1, 2^20], got {num_clusters}")
    torch._check(1 <= top_n <= expr.shape[1],
                 lambda: f"rank_marker_genes: top_n must be in [1, genes = {expr.shape[1]}], got {top_n}")
    return (expr.new_empty((num_clusters, top_n), dtype=torch.int64),
            expr.new_empty((num_clusters, top_n), dtype=torch.float64))


@register_fake("stx::cell_type_markers")
def _cell_type_markers_fake(expr, clusters, markers, top_n=20, min_score=0.2):
    n = _cells("cell_type_markers", expr)
    return expr.new_empty((n,), dtype=torch.int64), expr.new_empty((n,), dtype=torch.float64)

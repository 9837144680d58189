"""Cell typing from expression: by a labelled reference (centroid correlation or k-NN vote) or by
marker voting over clusters; every cell gets a confidence and -1 ("unknown") below a threshold.
Definitions: docs/ops/cell_typing.md."""
from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

__all__ = ["cell_type_reference", "rank_marker_genes", "cell_type_markers", "marker_matrix"]


def cell_type_reference(expr: Tensor, ref_expr: Tensor, ref_labels: Tensor, num_types: int, method: str = "centroid",
                        k: int = 15, min_confidence: float = 0.0) -> tuple[Tensor, Tensor]:
    """(labels [N] int64, -1 = unknown; confidence [N] float64) of cells typed against a reference."""
    return torch.ops.stx.cell_type_reference(expr, ref_expr, ref_labels, num_types, method, k, min_confidence)


def rank_marker_genes(expr: Tensor, clusters: Tensor, num_clusters: int, top_n: int = 20) -> tuple[Tensor, Tensor]:
    """(genes [C, top_n] int64, Welch t scores [C, top_n]): each cluster's most up-regulated genes,
    as scanpy's ``rank_genes_groups(method="t-test")``."""
    return torch.ops.stx.rank_marker_genes(expr, clusters, num_clusters, top_n)


def cell_type_markers(expr: Tensor, clusters: Tensor, markers: Tensor, top_n: int = 20,
                      min_score: float = 0.2) -> tuple[Tensor, Tensor]:
    """(labels [N] int64, -1 = unknown; confidence [N]) from a rank-weighted vote of each cluster's
    top genes over a [types, genes] marker table (see :func:`marker_matrix`)."""
    return torch.ops.stx.cell_type_markers(expr, clusters, markers, top_n, min_score)


def marker_matrix(genes: Sequence[str], table: Mapping[str, Sequence[str]]) -> tuple[Tensor, list[str]]:
    """The [types, genes] 0/1 matrix of a marker table ``{type: [gene, ...]}`` over the panel
    ``genes``, and the type names in table order. A marker the panel lacks is a ValueError naming it."""
    column = {g: i for i, g in enumerate(genes)}
    missing = [f"{t}: {g}" for t, markers in table.items() for g in markers if g not in column]
    if missing:
        raise ValueError(f"marker table names {len(missing)} gene(s) absent from the panel of {len(column)} genes: "
                         + ", ".join(missing[:20]) + (" ..." if len(missing) > 20 else ""))
    if not table:
        raise ValueError("marker table is empty: give at least one type with its marker genes")
    m = torch.zeros(len(table), len(column), dtype=torch.float64)
    for row, markers in enumerate(table.values()):
        m[row, [column[g] for g in markers]] = 1.0
    return m, list(table)

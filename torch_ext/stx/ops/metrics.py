"""ST evaluation metrics: per-gene Pearson r with PCC@F/S/M summaries, Moran's I."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["pearson_per_gene", "pcc_summary", "morans_i"]


def pearson_per_gene(pred: Tensor, target: Tensor, dim: int = 0) -> Tensor:
    """Pearson r per series along ``dim`` (dim=0: [spots, genes] -> [genes]); constant series give NaN."""
    return torch.ops.stx.pearson_per_gene(pred, target, dim)


def pcc_summary(pcc: Tensor, threshold: float = 0.3) -> dict[str, float]:
    """PCC@F (first quartile), PCC@S (median), PCC@M (mean) over genes, ignoring NaN genes, and the
    number of genes with r >= ``threshold``. Quantiles interpolate linearly (numpy's default)."""
    r = pcc.detach().double().flatten()
    r = r[~torch.isnan(r)]
    if r.numel() == 0:
        nan = float("nan")
        return {"PCC@F": nan, "PCC@S": nan, "PCC@M": nan, "n_genes_above": 0}
    return {
        "PCC@F": torch.quantile(r, 0.25).item(),
        "PCC@S": torch.quantile(r, 0.5).item(),
        "PCC@M": r.mean().item(),
        "n_genes_above": int((r >= threshold).sum().item()),
    }


def morans_i(values: Tensor, coords: Tensor, weights: str = "knn", k: int = 6,
             radius: float = 0.0) -> tuple[Tensor, Tensor]:
    """Moran's I per gene and its normality z-score over a row-standardised k-NN or radius graph."""
    return torch.ops.stx.morans_i(values, coords, weights, k, radius)

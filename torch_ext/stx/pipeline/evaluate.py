"""Evaluation metrics of the report, computed with the stx metric operators (log1p space)."""
from __future__ import annotations

import torch

import stx.ops as ops


def pcc_summary(pcc: torch.Tensor) -> dict[str, float]:
    """PCC@F/S/M and genes with PCC >= 0.3; a gene without variance (NaN PCC) counts as PCC 0, the
    convention of the reference code's epsilon, so predicting a constant never looks good."""
    s = ops.pcc_summary(torch.nan_to_num(pcc.double(), nan=0.0), threshold=0.3)
    return {"pcc_f": s["PCC@F"], "pcc_s": s["PCC@S"], "pcc_m": s["PCC@M"], "genes_pcc_ge_0_3": int(s["n_genes_above"])}


def regression_metrics(pred: torch.Tensor, target: torch.Tensor, coords: torch.Tensor | None = None,
                       gene_names: list[str] | None = None, morans_k: int = 6) -> dict:
    """MSE, MAE, per-gene PCC with PCC@F/S/M, genes with PCC >= 0.3, and Moran's I of the measured
    and predicted maps (k-NN weights) when spot coordinates are given."""
    pred, target = pred.detach().double().cpu(), target.detach().double().cpu()
    if pred.shape != target.shape or pred.dim() != 2:
        raise ValueError(f"pred {tuple(pred.shape)} and target {tuple(target.shape)} must both be [spots, genes]")
    pcc = ops.pearson_per_gene(pred, target)
    out = {
        "mse": float(torch.mean((pred - target) ** 2)),
        "mae": float(torch.mean((pred - target).abs())),
        "n_genes": int(target.shape[1]),
        "n_spots": int(target.shape[0]),
        **pcc_summary(pcc),
        "pcc_per_gene": [float(v) for v in torch.nan_to_num(pcc, nan=0.0)],
    }
    if gene_names is not None:
        out["gene_names"] = list(gene_names)
    if coords is not None and target.shape[0] > morans_k + 1:
        coords = coords.double().cpu()
        i_true = ops.morans_i(target, coords, weights="knn", k=morans_k)[0]
        i_pred = ops.morans_i(pred, coords, weights="knn", k=morans_k)[0]
        out["morans_i_true_mean"] = float(torch.nan_to_num(i_true).mean())
        out["morans_i_pred_mean"] = float(torch.nan_to_num(i_pred).mean())
        out["morans_i_true"] = [float(v) for v in torch.nan_to_num(i_true)]
        out["morans_i_pred"] = [float(v) for v in torch.nan_to_num(i_pred)]
    return out


def mean_predictor_metrics(train_target: torch.Tensor, test_target: torch.Tensor) -> dict:
    """The baseline that predicts every test spot as the mean training profile."""
    # A constant prediction has no PCC; it counts as 0 (see pcc_summary).
    pred = train_target.double().mean(0, keepdim=True).expand_as(test_target).contiguous()
    return regression_metrics(pred, test_target)

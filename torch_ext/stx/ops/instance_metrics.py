"""Nucleus instance-map metrics (the PanNuke / HoVer-Net evaluation): binary Dice, AJI, DQ/SQ/PQ,
per-class PQ and the per-class F1 of matched nuclei. Definitions: docs/ops/instance_metrics.md."""
from __future__ import annotations

import math

import torch
from torch import Tensor

from stx._C import ops as _info

__all__ = ["instance_metrics", "instance_class_metrics"]


def instance_metrics(true_inst: Tensor, pred_inst: Tensor, iou_threshold: float = 0.5) -> dict[str, float]:
    """Dice, AJI, DQ, SQ, PQ and the TP/FP/FN counts of two [H, W] instance maps (0 = background).
    A value with nothing to measure (no nucleus on either side) is NaN."""
    values = torch.ops.stx.instance_metrics(true_inst, pred_inst, iou_threshold).tolist()
    return dict(zip(_info.instance_metric_columns, values))


def instance_class_metrics(true_inst: Tensor, pred_inst: Tensor, true_type: Tensor, pred_type: Tensor,
                           num_classes: int, iou_threshold: float = 0.5) -> dict:
    """Per-class PQ (``pq``: [C, 6], columns ``pq_columns``) and per-class F1 of the matched nuclei
    (``f1``: [C, 4], columns ``f1_columns``) of two instance maps with per-pixel type maps in
    [0, num_classes] (0: no type); ``mpq`` and ``macro_f1`` average the classes that have a value."""
    pq, f1 = torch.ops.stx.instance_class_metrics(true_inst, pred_inst, true_type, pred_type, num_classes,
                                                  iou_threshold)
    return {"pq": pq, "f1": f1, "pq_columns": list(_info.class_pq_columns),
            "f1_columns": list(_info.class_f1_columns), "mpq": _nanmean(pq[:, 2]), "macro_f1": _nanmean(f1[:, 0])}


def _nanmean(values: Tensor) -> float:
    kept = values[~torch.isnan(values)]
    return kept.mean().item() if kept.numel() else math.nan

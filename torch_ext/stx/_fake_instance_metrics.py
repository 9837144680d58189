"""Fake kernels of the instance-metric family."""
from __future__ import annotations

import torch

from stx._C import ops as _info
from stx._fake import register_fake


def _check_maps(op, **maps):
    first_name, first = next(iter(maps.items()))
    for name, m in maps.items():
        torch._check(m.dim() == 2, lambda: f"{op}: {name} must be a 2-D [H, W] map, got {m.dim()}-D")
        torch._check(m.shape == first.shape, lambda: f"{op}: {name} has shape {tuple(m.shape)} but {first_name} "
                                                     f"has shape {tuple(first.shape)}")


@register_fake("stx::instance_metrics")
def _instance_metrics_fake(true_inst, pred_inst, iou_threshold=0.5):
    _check_maps("instance_metrics", true_inst=true_inst, pred_inst=pred_inst)
    return true_inst.new_empty((len(_info.instance_metric_columns),), dtype=torch.float64)


@register_fake("stx::instance_class_metrics")
def _instance_class_metrics_fake(true_inst, pred_inst, true_type, pred_type, num_classes, iou_threshold=0.5):
    _check_maps("instance_class_metrics", true_inst=true_inst, pred_inst=pred_inst, true_type=true_type,
                pred_type=pred_type)
    torch._check(num_classes >= 1, lambda: f"instance_class_metrics: num_classes must be >= 1, got {num_classes}")
    return (true_inst.new_empty((num_classes, len(_info.class_pq_columns)), dtype=torch.float64),
            true_inst.new_empty((num_classes, len(_info.class_f1_columns)), dtype=torch.float64))

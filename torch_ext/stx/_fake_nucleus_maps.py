"""Fake kernels of the nucleus-map family."""
from __future__ import annotations

import torch

from stx._fake import register_fake


@register_fake("stx::hv_maps")
def _hv_maps_fake(instances):
    torch._check(instances.dim() == 2, lambda: f"hv_maps: instances must be a 2-D [H, W] map, got {instances.dim()}-D")
    return instances.new_empty((2, *instances.shape), dtype=torch.float32)


@register_fake("stx::hv_instances")
def _hv_instances_fake(nuclear_prob, hv, threshold=0.5, edge_threshold=0.4, min_size=10):
    torch._check(nuclear_prob.dim() == 2,
                 lambda: f"hv_instances: nuclear_prob must be a 2-D [H, W] map, got {nuclear_prob.dim()}-D")
    torch._check(hv.dim() == 3 and hv.shape[0] == 2 and hv.shape[1:] == nuclear_prob.shape,
                 lambda: f"hv_instances: hv must be [2, H, W] like nuclear_prob, got {tuple(hv.shape)}")
    return nuclear_prob.new_empty(nuclear_prob.shape, dtype=torch.int64)

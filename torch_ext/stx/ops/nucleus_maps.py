"""HoVer-Net-style nucleus maps: distance targets of an instance map, and instances from predicted
maps by marker-controlled watershed. Definitions: docs/ops/nucleus_maps.md."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["hv_maps", "hv_instances"]


def hv_maps(instances: Tensor) -> Tensor:
    """[2, H, W] float32: each pixel's horizontal and vertical offset from its nucleus' centroid,
    scaled per nucleus to [-1, 1]; 0 on the background."""
    return torch.ops.stx.hv_maps(instances)


def hv_instances(nuclear_prob: Tensor, hv: Tensor, threshold: float = 0.5, edge_threshold: float = 0.4,
                 min_size: int = 10) -> Tensor:
    """[H, W] int64 instance map (ids 1..n) from a nuclear-pixel probability map and [2, H, W]
    distance maps, by watershed from the low-energy cores of the foreground."""
    return torch.ops.stx.hv_instances(nuclear_prob, hv, threshold, edge_threshold, min_size)

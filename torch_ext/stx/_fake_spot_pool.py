"""Fake (meta) kernels of the spot and label pooling ops, so torch.compile can trace them."""
from __future__ import annotations

import torch

from stx._fake import register_fake


def _coverage_dtype(dtype: torch.dtype) -> torch.dtype:
    return torch.float64 if dtype == torch.float64 else torch.float32


@register_fake("stx::spot_pool")
def _spot_pool_fake(dense, centers, radii, shape="disk", reduce="sum", sigma=0.5):
    torch._check(dense.dim() == 4, lambda: "stx spot ops: dense must be a 4-D [B, G, H, W] map")
    out = dense.new_empty((*radii.shape, dense.shape[1]))
    coverage = dense.new_empty(tuple(radii.shape), dtype=_coverage_dtype(dense.dtype))
    return out, coverage


@register_fake("stx::spot_splat")
def _spot_splat_fake(values, centers, radii, batch_size, height, width, shape="disk", reduce="sum", sigma=0.5):
    torch._check((batch_size >= 1 or (centers.shape[0] == 0 and batch_size == 0)) and batch_size < 2**31 - 1,
                 lambda: f"stx spot ops: spot_splat's batch_size must be in [1, 2^31) (or 0 with no spots), "
                         f"got {batch_size}")
    torch._check(0 <= height < 2**31 and 0 <= width < 2**31,
                 lambda: f"stx spot ops: height and width must be in [0, 2^31), got {height} x {width}")
    return values.new_empty((batch_size, values.shape[-1], height, width))


@register_fake("stx::label_pool")
def _label_pool_fake(dense, labels, num_labels, reduce="sum", ignore_index=0):
    torch._check(dense.dim() == 4, lambda: "stx label_pool: dense must be a 4-D [B, G, H, W] map")
    torch._check(num_labels >= 0, lambda: f"stx label_pool: num_labels must be >= 0, got {num_labels}")
    out = dense.new_empty((dense.shape[0], num_labels, dense.shape[1]))
    count = dense.new_empty((dense.shape[0], num_labels), dtype=torch.int64)
    return out, count


@register_fake("stx::_label_pool_backward")
def _label_pool_backward_fake(grad, labels, count, reduce="sum", ignore_index=0):
    torch._check(grad.dim() == 3 and labels.dim() == 3,
                 lambda: "stx _label_pool_backward: grad must be [B, L, G] and labels [B, H, W]")
    return grad.new_empty((grad.shape[0], grad.shape[2], labels.shape[1], labels.shape[2]))

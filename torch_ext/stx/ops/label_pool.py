"""Label pooling: aggregate a dense map inside integer label masks (cells, nuclei). Thin wrapper over
``torch.ops.stx.label_pool`` (conventions: docs/ops/label_pool.md)."""
from __future__ import annotations

import torch

__all__ = ["label_pool"]


def label_pool(
    dense: torch.Tensor,
    labels: torch.Tensor,
    num_labels: int,
    reduce: str = "sum",
    ignore_index: int = 0,
    return_count: bool = False,
):
    """Aggregate ``dense`` [B, G, H, W] inside integer label masks ``labels`` [B, H, W].

    Returns [B, num_labels, G] ("sum" or "mean"; an empty label gives 0). Pixels equal to
    ``ignore_index`` (default 0, background) are skipped. ``return_count=True`` also returns
    the int64 pixel counts [B, num_labels].
    """
    out, count = torch.ops.stx.label_pool(dense, labels, num_labels, reduce, ignore_index)
    return (out, count) if return_count else out

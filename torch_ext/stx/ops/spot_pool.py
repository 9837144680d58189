"""Spot pooling: read a dense map out inside spots of any size and paint spot values back. Thin
wrappers over ``torch.ops.stx.{spot_pool, spot_splat}`` (conventions: docs/ops/spot_pool.md)."""
from __future__ import annotations

import torch

__all__ = ["spot_pool", "spot_splat"]


def spot_pool(
    dense: torch.Tensor,
    centers: torch.Tensor,
    radii: torch.Tensor,
    shape: str = "disk",
    reduce: str = "sum",
    sigma: float = 0.5,
    return_coverage: bool = False,
):
    """Aggregate ``dense`` [B, G, H, W] inside spots.

    ``centers`` [N, 3] (batch, y, x) or [N, 2] (y, x) in pixel units (pixel (i, j) is centred at
    y=i, x=j); ``radii`` [N] -> output [N, G], or [N, S] (S scales per spot) -> [N, S, G].
    ``shape``: "disk", "square" (half-side r) or "gaussian" (sigma * r, truncated to the disk).
    ``reduce``: "sum", "mean" (over covered in-image pixels) or "area" (over the whole footprint;
    pixels outside the image count as zeros). Empty spots give 0; ``return_coverage=True`` also
    returns the covered weight per spot ([N] or [N, S]) so they can be detected.
    """
    out, coverage = torch.ops.stx.spot_pool(dense, centers, radii, shape, reduce, sigma)
    return (out, coverage) if return_coverage else out


def spot_splat(
    values: torch.Tensor,
    centers: torch.Tensor,
    radii: torch.Tensor,
    batch_size: int,
    height: int,
    width: int,
    shape: str = "disk",
    reduce: str = "sum",
    sigma: float = 0.5,
) -> torch.Tensor:
    """Paint spot ``values`` ([N, G] or [N, S, G]) into a [batch_size, G, height, width] map.

    The exact adjoint of :func:`spot_pool` with the same arguments: pixel p receives
    ``sum_n w_n(p) * norm_n * values_n``.
    """
    return torch.ops.stx.spot_splat(values, centers, radii, batch_size, height, width, shape, reduce, sigma)

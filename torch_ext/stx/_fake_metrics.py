"""Fake kernels of the metric family."""
from __future__ import annotations

import torch

from stx._fake import register_fake


@register_fake("stx::pearson_per_gene")
def _pearson_per_gene_fake(pred, target, dim=0):
    torch._check(pred.dim() == 2, lambda: f"pearson_per_gene: pred must be 2-D, got {pred.dim()}-D")
    torch._check(target.shape == pred.shape, lambda: "pearson_per_gene: target shape must equal pred shape")
    torch._check(-2 <= dim <= 1, lambda: f"pearson_per_gene: dim must be in [-2, 1], got {dim}")
    return pred.new_empty((pred.shape[1 - (dim % 2)],))


@register_fake("stx::morans_i")
def _morans_i_fake(values, coords, weights="knn", k=6, radius=0.0):
    torch._check(values.dim() == 2, lambda: f"morans_i: values must be 2-D [N, G], got {values.dim()}-D")
    g = values.shape[1]
    return values.new_empty((g,)), values.new_empty((g,))

"""Fused losses (forward + backward kernels): soft-label loss, Pearson loss, CLIP contrastive loss."""
from __future__ import annotations

import torch
from torch import Tensor

__all__ = ["soft_label_loss", "pearson_loss", "contrastive_loss"]


def soft_label_loss(pred: Tensor, target: Tensor, soft: Tensor, confidence: Tensor, weight: float = 0.01,
                    threshold: float = 0.1, base: str = "mse", delta: float = 1.0) -> Tensor:
    """``mean(base(pred - target)) + weight * sum_b [conf_b > threshold] sum_g (pred - soft)^2 / (B G)``."""
    return torch.ops.stx.soft_label_loss(pred, target, soft, confidence, weight, threshold, base, delta)


def pearson_loss(pred: Tensor, target: Tensor, dim: int = 0, eps: float = 1e-8) -> Tensor:
    """``1 - mean r`` with r the Pearson correlation of each series along ``dim`` (2-D inputs)."""
    return torch.ops.stx.pearson_loss(pred, target, dim, eps)


def contrastive_loss(a: Tensor, b: Tensor, temperature: float = 0.5) -> Tensor:
    """Symmetric CLIP loss of L2-normalised ``a`` and ``b`` ([B, D], row i of a matches row i of b)."""
    return torch.ops.stx.contrastive_loss(a, b, temperature)

"""Soft labels: the weighted average of retrieved neighbours' expression and its confidence
(differentiable in the scores and the bank). Thin wrapper over ``torch.ops.stx.soft_labels``
(conventions: docs/ops/soft_labels.md)."""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

__all__ = ["soft_labels"]


def soft_labels(index: Tensor, scores: Tensor, keep: Optional[Tensor], bank_values: Tensor, weighting: str = "mean",
                temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """Soft label [Q, G] (mean / similarity / softmax weighting of kept neighbours) and confidence [Q]."""
    return torch.ops.stx.soft_labels(index, scores, keep, bank_values, weighting, temperature)

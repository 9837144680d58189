"""Retrieval: exact tiled top-k, the majority cell-type filter and shard merge.

Thin wrappers over ``torch.ops.stx``; semantics are documented in docs/ops/retrieval.md.
"""
from __future__ import annotations

from typing import Optional, Sequence, Union

import torch
from torch import Tensor

__all__ = ["cosine_topk", "majority_filter", "filtered_topk", "merge_topk"]


def cosine_topk(query: Tensor, bank: Tensor, k: int, metric: str = "cosine", bank_mask: Optional[Tensor] = None,
                exclude_self: bool = False) -> tuple[Tensor, Tensor]:
    """Exact top-k of ``bank`` rows for each ``query`` row: ``(scores [Q, k], index [Q, k])``.

    ``metric``: ``"cosine"``, ``"ip"`` or ``"l2"`` (scores are negative squared distances). Sorted by
    score descending, ties by lower index; missing candidates are index -1 / score -inf.
    """
    return torch.ops.stx.cosine_topk(query, bank, k, metric, bank_mask, exclude_self)


def majority_filter(index: Tensor, bank_labels: Tensor, num_types: int, num_labels: Optional[int] = None) -> Tensor:
    """Keep-mask [Q, k] of neighbours whose label is among the ``num_types`` most frequent in the row."""
    return torch.ops.stx.majority_filter(index, bank_labels, num_types, num_labels)


def filtered_topk(query: Tensor, bank: Tensor, bank_labels: Tensor, k: int, num_types: int, metric: str = "cosine",
                  bank_mask: Optional[Tensor] = None, exclude_self: bool = False,
                  num_labels: Optional[int] = None) -> tuple[Tensor, Tensor, Tensor]:
    """``cosine_topk`` followed by ``majority_filter``: ``(scores, index, keep)``, all [Q, k]."""
    return torch.ops.stx.filtered_topk(query, bank, bank_labels, k, num_types, metric, bank_mask, exclude_self,
                                       num_labels)


def merge_topk(scores: Union[Tensor, Sequence[Tensor]], index: Union[Tensor, Sequence[Tensor]],
               k: int) -> tuple[Tensor, Tensor]:
    """Merge per-shard top-k lists (stacked [P, Q, k] or a list of [Q, k]) holding global indices."""
    if not isinstance(scores, Tensor):
        scores = torch.stack(list(scores))
    if not isinstance(index, Tensor):
        index = torch.stack(list(index))
    return torch.ops.stx.merge_topk(scores, index, k)

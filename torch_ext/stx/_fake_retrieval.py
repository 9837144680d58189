"""Fake kernels of the retrieval family (cosine_topk, majority_filter, merge_topk, soft_labels).

filtered_topk is a C++ composition of cosine_topk and majority_filter and needs none.
"""
from __future__ import annotations

import torch

from stx._fake import register_fake


@register_fake("stx::cosine_topk")
def _cosine_topk_fake(query, bank, k, metric="cosine", bank_mask=None, exclude_self=False):
    torch._check(query.dim() == 2 and bank.dim() == 2, lambda: "cosine_topk: query and bank must be 2-D")
    torch._check(query.shape[1] == bank.shape[1], lambda: "cosine_topk: query and bank must have the same D")
    torch._check(k > 0, lambda: f"cosine_topk: k must be positive, got {k}")
    q = query.shape[0]
    return query.new_empty((q, k)), query.new_empty((q, k), dtype=torch.int64)


@register_fake("stx::majority_filter")
def _majority_filter_fake(index, bank_labels, num_types, num_labels=None):
    return torch.empty_like(index, dtype=torch.bool)


@register_fake("stx::merge_topk")
def _merge_topk_fake(scores, index, k):
    torch._check(scores.dim() == 3, lambda: "merge_topk: scores must be 3-D [P, Q, k]")
    torch._check(k > 0, lambda: f"merge_topk: k must be positive, got {k}")
    q = scores.shape[1]
    return scores.new_empty((q, k)), index.new_empty((q, k))


@register_fake("stx::soft_labels")
def _soft_labels_fake(index, scores, keep, bank_values, weighting="mean", temperature=1.0):
    torch._check(index.dim() == 2 and bank_values.dim() == 2,
                 lambda: "soft_labels: index must be 2-D [Q, k] and bank_values 2-D [N, G]")
    q = index.shape[0]
    return bank_values.new_empty((q, bank_values.shape[1])), scores.new_empty((q,))


@register_fake("stx::_soft_labels_backward")
def _soft_labels_backward_fake(grad_soft, grad_confidence, index, scores, keep, bank_values, weighting,
                               temperature, output_mask):
    grad_scores = torch.empty_like(scores) if output_mask[0] else scores.new_empty((0,))
    grad_bank = torch.empty_like(bank_values) if output_mask[1] else bank_values.new_empty((0,))
    return grad_scores, grad_bank

"""Exact top-k over a bank sharded across ``torch.distributed`` ranks.

Each rank holds rows ``[offset, offset + n_local)`` of the bank, searches its shard with
``cosine_topk``, shifts the indices to global ones, all-gathers the partial lists and merges them
with ``merge_topk``; every rank gets the same result as a search of the whole bank.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["sharded_topk"]


def sharded_topk(query: Tensor, bank_shard: Tensor, k: int, offset: int, metric: str = "cosine",
                 bank_mask: Optional[Tensor] = None, group: Optional[dist.ProcessGroup] = None) -> tuple[Tensor, Tensor]:
    """Top-k of ``query`` over the union of every rank's ``bank_shard`` (same ``query`` on every rank)."""
    scores, index = torch.ops.stx.cosine_topk(query, bank_shard, k, metric, bank_mask, False)
    index = torch.where(index >= 0, index + offset, index)
    world = dist.get_world_size(group)
    all_scores = [torch.empty_like(scores) for _ in range(world)]
    all_index = [torch.empty_like(index) for _ in range(world)]
    dist.all_gather(all_scores, scores, group=group)
    dist.all_gather(all_index, index, group=group)
    return torch.ops.stx.merge_topk(torch.stack(all_scores), torch.stack(all_index), k)

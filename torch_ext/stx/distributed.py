"""Retrieval over a bank sharded across ``torch.distributed`` ranks.

Each rank holds rows ``[offset, offset + n_local)`` of the bank, searches its shard with
``cosine_topk``, shifts the indices to global ones, all-gathers the partial lists and merges them
with ``merge_topk``; every rank gets the same result as a search of the whole bank.
``sharded_soft_labels`` builds SCR2Net's soft labels on top of it: the bank's expression rows never
leave their rank, only per-query partial sums are all-reduced.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.distributed as dist
from torch import Tensor

__all__ = ["sharded_topk", "sharded_soft_labels", "shard_range"]


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


def shard_range(n: int, rank: int, world: int) -> tuple[int, int]:
    """Rows [start, stop) of an n-row bank held by `rank` (contiguous, sizes differ by at most one)."""
    return rank * n // world, (rank + 1) * n // world


def _all_gather_rows(x: Tensor, group) -> tuple[Tensor, list[int]]:
    """Concatenation of every rank's `x` ([n_r, ...], n_r may differ) and the row counts."""
    world = dist.get_world_size(group)
    count = torch.tensor([x.shape[0]], device=x.device)
    counts = [torch.empty_like(count) for _ in range(world)]
    dist.all_gather(counts, count, group=group)
    sizes = [int(c) for c in counts]
    padded = x.new_zeros((max(sizes), *x.shape[1:]))
    padded[: x.shape[0]] = x
    parts = [torch.empty_like(padded) for _ in range(world)]
    dist.all_gather(parts, padded, group=group)
    return torch.cat([p[:n] for p, n in zip(parts, sizes)]), sizes


def sharded_soft_labels(query: Tensor, bank_emb_shard: Tensor, bank_values_shard: Tensor, bank_labels: Tensor,
                        offset: int, k: int, num_types: int, num_labels: Optional[int] = None,
                        group: Optional[dist.ProcessGroup] = None, weighting: str = "mean",
                        temperature: float = 1.0) -> tuple[Tensor, Tensor]:
    """SCR2Net's soft labels for this rank's queries over a sharded bank.

    ``query`` [B_r, P]: this rank's image embeddings (B_r may differ between ranks);
    ``bank_emb_shard`` [n, P] / ``bank_values_shard`` [n, G]: this rank's rows of the bank;
    ``bank_labels`` [N]: the labels of the whole bank (small, on every rank), for the majority filter;
    ``weighting`` / ``temperature`` as in ``stx.ops.soft_labels``.
    Returns (soft [B_r, G], confidence [B_r]), equal to ``filtered_topk`` + ``soft_labels`` over the
    whole bank. Collective: every rank of ``group`` must call it.
    """
    if weighting not in ("mean", "similarity", "softmax"):
        raise ValueError(f'weighting must be "mean", "similarity" or "softmax", got "{weighting}"')
    rank = dist.get_rank(group)
    queries, sizes = _all_gather_rows(query, group)  # every rank searches its shard for all queries
    n_total = int(bank_labels.shape[0])
    scores, index = sharded_topk(queries, bank_emb_shard, min(k, n_total), offset, group=group)
    keep = torch.ops.stx.majority_filter(index, bank_labels, num_types, num_labels)
    used = keep & (index >= 0)
    mine = (index >= offset) & (index < offset + bank_values_shard.shape[0])
    local_index = torch.where(mine, index - offset, -1)
    # Every rank knows all merged scores, so each row's weights up to their normaliser are global; a
    # rank's soft_labels normalises over its own rows, and its share times its unnormalised weight
    # mass recombines exactly under all_reduce.
    mass = {} if weighting == "softmax" else {"mean": used.to(scores.dtype)}  # similarity falls back to mean
    if weighting == "similarity":
        mass["similarity"] = torch.where(used, scores.clamp_min(0), 0)
    elif weighting == "softmax":
        logits = torch.where(used, scores / temperature, float("-inf"))
        top = logits.max(1, keepdim=True).values
        mass["softmax"] = torch.where(used, (logits - torch.where(top.isinf(), 0, top)).exp(), 0)
    parts = {}
    for mode, m in mass.items():
        local, _ = torch.ops.stx.soft_labels(local_index, scores, used & mine, bank_values_shard, mode, temperature)
        local_mass = torch.where(mine, m, 0).sum(1, keepdim=True)
        total = local * local_mass
        dist.all_reduce(total, group=group)
        dist.all_reduce(local_mass, group=group)
        parts[mode] = torch.where(local_mass > 0, total / torch.where(local_mass > 0, local_mass, 1), 0)
        parts[mode + "_mass"] = local_mass
    if weighting == "similarity":  # rows whose kept scores are all <= 0 fall back to the mean
        soft = torch.where(parts["similarity_mass"] > 0, parts["similarity"], parts["mean"])
    else:
        soft = parts[weighting]
    valid = index >= 0  # confidence: mean score of all valid neighbours, before the filter
    confidence = torch.where(valid, scores, 0).sum(1) / valid.sum(1).clamp_min(1).to(scores.dtype)
    start = sum(sizes[:rank])
    return soft[start:start + sizes[rank]], confidence[start:start + sizes[rank]]

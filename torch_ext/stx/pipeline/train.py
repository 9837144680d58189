"""The Python side of training: the C++ loop (include/stx/train/loop.h) with the hooks
torch.distributed needs. Under torchrun every rank trains on its share of each batch, gradients are
averaged with all_reduce, and with config ``shard_bank`` each rank keeps only its rows of the bank
(stx.distributed.sharded_soft_labels).
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from stx._C import train as _train

from .config import PipelineConfig


@dataclass
class TrainResult:
    model: object  # stx._C.train.Model: state_dict(), predict via predict() below
    losses: list[float]
    # config val_fraction > 0: {"indices", "steps", "mse", "best_step"}; the model is the best step's
    validation: dict


def distributed_hooks(cfg: PipelineConfig) -> dict:
    """rank, world and, under an initialised torch.distributed group, the gradient and retrieval hooks."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return {}
    world = dist.get_world_size()

    def average_gradients(flat: torch.Tensor) -> None:
        dist.all_reduce(flat)
        flat.div_(world)

    def sharded_retrieve(image_emb, bank_emb, bank_values, bank_labels, offset):
        from stx.distributed import sharded_soft_labels

        return sharded_soft_labels(image_emb, bank_emb, bank_values, bank_labels, offset, cfg.retrieval_k,
                                   cfg.retrieval_types, int(bank_labels.max()) + 1)

    return {"rank": dist.get_rank(), "world": world, "average_gradients": average_gradients,
            "sharded_retrieve": sharded_retrieve}


def train(patches: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, cfg: PipelineConfig, seed: int,
          retrieval: bool = True, progress=None) -> TrainResult:
    """patches uint8 [N,3,S,S], targets log1p [N,G], labels int64 [N] (spot labels of the majority filter)."""
    model, losses, validation = _train.train(patches, targets, labels, cfg.native, seed, retrieval, progress=progress,
                                             **distributed_hooks(cfg))
    return TrainResult(model=model, losses=list(losses), validation=dict(validation))


def predict(model, patches: torch.Tensor, device: str) -> torch.Tensor:
    return _train.predict(model, patches, device)

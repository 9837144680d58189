"""Training of SCR2Net (and its regression-only ablation) on the sequenced spots.

The objective is the C++ ``SCR2Net.training_loss`` (include/stx/modules/scr2net_training.h), the
same one the native trainer uses: the bank is the set of sequenced training spots in log1p space;
each step retrieves, for every image in the batch, its top-k bank spots by cosine similarity of the
projection heads, keeps the neighbours of the majority spot types, and pulls the prediction towards
their mean profile where the retrieval is confident. See docs/pipeline.md.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from stx.modules import SCR2Net

from .config import PipelineConfig

# ImageNet statistics: the convention of pretrained TorchScript backbones.
_MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
_STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def to_input(patches_u8: torch.Tensor, device: str) -> torch.Tensor:
    x = patches_u8.to(device=device, dtype=torch.float32) / 255.0
    return (x - _MEAN.to(device)) / _STD.to(device)


def dihedral(x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A random element of the dihedral group per batch (flips and 90-degree turns keep morphology)."""
    k = int(torch.randint(0, 4, (1,), generator=generator))
    x = torch.rot90(x, k, dims=(2, 3))
    if int(torch.randint(0, 2, (1,), generator=generator)):
        x = torch.flip(x, dims=(3,))
    return x


def make_model(cfg: PipelineConfig, num_genes: int) -> SCR2Net:
    """The SCR2Net of a config (the same arguments rebuild a checkpoint's model)."""
    return SCR2Net(num_genes=num_genes, backbone=cfg.backbone, small_cnn_width=cfg.width, hidden_dim=256,
                   projection_dim=64, dropout=0.1)


@dataclass
class TrainResult:
    model: SCR2Net
    losses: list[float]


class _Objective(torch.nn.Module):
    """SCR2Net's C++ training objective as a Python module whose parameters are the C++ tensors
    themselves, so torch.nn.parallel.DistributedDataParallel can hook and average them."""

    def __init__(self, model: SCR2Net, cfg: PipelineConfig, retrieval: bool, num_labels: int):
        super().__init__()
        object.__setattr__(self, "model", model)
        for name, tensor in model.cpp_module.named_parameters(True).items():
            self._parameters[name.replace(".", "__")] = tensor
        self.options = dict(retrieval=retrieval, k=cfg.retrieval_k, num_types=cfg.retrieval_types,
                            num_labels=num_labels, soft_weight=cfg.soft_weight, soft_threshold=cfg.soft_threshold,
                            contrastive_weight=cfg.contrastive_weight, temperature=cfg.temperature)

    def forward(self, images, targets, bank_values, bank_labels, bank_offset: int | None = None):
        """bank_offset None: bank_values is the whole bank. Otherwise bank_values holds this rank's
        rows [bank_offset, bank_offset + n) of a bank sharded across ranks, bank_labels the labels of
        the whole bank, and the retrieval is stx.distributed.sharded_soft_labels."""
        if bank_offset is None or not self.options["retrieval"]:
            return self.model.training_loss(images, targets, bank_values, bank_labels, **self.options)
        from stx.distributed import sharded_soft_labels

        o = self.options

        def retrieve(image_emb):
            bank_emb = self.model.gene_embedding(bank_values)
            return sharded_soft_labels(image_emb, bank_emb, bank_values, bank_labels, bank_offset, o["k"],
                                       o["num_types"], o["num_labels"] or None)

        return self.model.training_loss_with_retrieval(
            images, targets, retrieve, soft_weight=o["soft_weight"], soft_threshold=o["soft_threshold"],
            contrastive_weight=o["contrastive_weight"], temperature=o["temperature"])


def _distributed() -> tuple[int, int]:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def train_scr2net(patches: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor, cfg: PipelineConfig,
                  seed: int, retrieval: bool = True, progress=None) -> TrainResult:
    """patches uint8 [N,3,S,S], targets log1p [N,G], labels int64 [N] (spot labels for the majority filter).

    Under torch.distributed (e.g. torchrun), the model is wrapped in DistributedDataParallel and every
    rank trains on its share of each batch; every rank holds the bank of sequenced spots, or with
    ``cfg.shard_bank`` only its share of the bank's rows (stx.distributed.sharded_soft_labels).
    """
    if patches.shape[0] != targets.shape[0] or targets.shape[0] != labels.shape[0]:
        raise ValueError("patches, targets and labels must have one row per spot")
    if patches.shape[0] < 2:
        raise ValueError(f"need at least 2 sequenced spots to train, got {patches.shape[0]}")
    device = cfg.device
    rank, world = _distributed()
    torch.manual_seed(seed)  # the same initial weights on every rank
    gen = torch.Generator().manual_seed(seed)
    model = make_model(cfg, targets.shape[1])
    model.to(torch.device(device))
    model.train()
    objective = _Objective(model, cfg, retrieval, int(labels.max()) + 1)
    step = objective
    if world > 1:
        step = torch.nn.parallel.DistributedDataParallel(objective, find_unused_parameters=True)
    with torch.no_grad():  # start the regression head at the mean profile
        model.cpp_module.named_parameters(True)["regressor.fc2.bias"].copy_(targets.mean(0))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=cfg.steps)
    n = patches.shape[0]
    bank_values = targets.to(device)
    bank_labels = labels.to(device)
    bank_offset = None
    if cfg.shard_bank and world > 1:
        from stx.distributed import shard_range

        start, stop = shard_range(n, rank, world)
        bank_values, bank_offset = bank_values[start:stop], start
    batch_size = max(2 * world, min(cfg.batch_size, n))
    losses: list[float] = []
    order, cursor = torch.randperm(n, generator=gen), 0
    for it in range(cfg.steps):
        if cursor + batch_size > n:  # a new pass over the sequenced spots
            order, cursor = torch.randperm(n, generator=gen), 0
        batch = order[cursor:cursor + batch_size]
        cursor += batch_size
        idx = batch[rank::world]
        x = dihedral(to_input(patches[idx], device), gen)
        loss, _ = step(x, targets[idx].to(device), bank_values, bank_labels, bank_offset)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
        losses.append(float(loss.detach()))
        if progress is not None:
            progress(it, losses[-1])
    model.eval()
    return TrainResult(model=model, losses=losses)


@torch.no_grad()
def predict(model: SCR2Net, patches: torch.Tensor, device: str, batch_size: int = 256) -> torch.Tensor:
    model.eval()
    outs = [model(to_input(patches[i:i + batch_size], device))[1].cpu() for i in range(0, patches.shape[0], batch_size)]
    return torch.cat(outs) if outs else torch.empty(0)

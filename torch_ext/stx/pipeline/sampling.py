"""Which spots to sequence: the environment's baselines and a learned (SCRL) policy.

The candidate pool is every spot of the training sections. The policy sees image features of
each spot (never the expression of unsequenced spots); the reward uses an expression embedding
(PCA of the log1p panel, the stand-in for a single-cell foundation-model embedding) against a
single-cell reference in the same space (see docs/pipeline.md).
"""
from __future__ import annotations

from dataclasses import dataclass, field

import torch

from stx._C import envs as _envs
from stx._C import modules as _modules

from .config import PipelineConfig

BASELINES = {"random": "random", "grid": "grid", "coreset": "kcenter"}


def image_features(patches: torch.Tensor) -> torch.Tensor:
    """Per-spot image descriptors: a 4x4 RGB thumbnail plus per-channel contrast, standardised."""
    x = patches.float() / 255.0
    thumb = torch.nn.functional.adaptive_avg_pool2d(x, 4).flatten(1)
    contrast = x.flatten(2).std(2)
    f = torch.cat([thumb, contrast], 1)
    return ((f - f.mean(0)) / f.std(0).clamp_min(1e-6)).contiguous()


def pca_basis(x: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    mean = x.double().mean(0)
    _, _, v = torch.linalg.svd(x.double() - mean, full_matrices=False)
    return mean, v[: min(k, v.shape[0])].T.contiguous()


def spot_labels(targets: torch.Tensor, seed: int, num_types: int = 8) -> torch.Tensor:
    """Cell-type-like spot labels for the retrieval filter: k-means of the expression PCA (C++,
    shared with the native trainer)."""
    return _modules.spot_labels(targets, num_labels=num_types, components=16, seed=seed)


@dataclass
class SamplingContext:
    task: object
    cfg: PipelineConfig
    n: int
    features: torch.Tensor
    coords: torch.Tensor
    section_id: torch.Tensor
    _policies: dict = field(default_factory=dict)

    @classmethod
    def build(cls, pool: dict, test_sections, data_info: dict, cfg: PipelineConfig) -> "SamplingContext":
        targets = pool["targets"]
        mean, basis = pca_basis(targets, 32)
        reward_emb = ((targets.double() - mean) @ basis).float()
        ref_emb, ref_types = _reference(data_info, pool, mean, basis, cfg)
        prior = _envs.SingleCellPrior.build(ref_emb, ref_types, pca_components=min(50, ref_emb.shape[1]),
                                            num_clusters=min(200, max(2, ref_emb.shape[0] // 10)), seed=cfg.seed)
        features = image_features(pool["patches"])
        coords = pool["coords"].float()
        task = _envs.SpotSamplingTask.create(features, coords, reward_emb, prior, pool["section_id"])
        return cls(task=task, cfg=cfg, n=int(targets.shape[0]), features=features, coords=coords,
                   section_id=pool["section_id"])


def _reference(data_info: dict, pool: dict, mean, basis, cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The single-cell reference in the reward space: the study's scRNA reference when there is one,
    else the pool's own spots labelled by k-means (documented fallback for data without one)."""
    ref_path = data_info.get("reference")
    if ref_path:
        import stx.data as sdata

        ref = sdata.read_h5ad(ref_path, dense=True, dtype=torch.float32, layers=False)
        lookup = {g: i for i, g in enumerate(ref.var.index)}
        panel = pool.get("genes")
        types = ref.obs.columns.get("cell_type")
        if panel is not None and types is not None and all(g in lookup for g in panel):
            expr = sdata.normalize_total(ref.X, target_sum=1e4, log1p=True)
            expr = expr[:, torch.tensor([lookup[g] for g in panel])]
            return ((expr.double() - mean) @ basis).float(), types.values.long()
    emb = ((pool["targets"].double() - mean) @ basis).float()
    return emb, spot_labels(pool["targets"], cfg.seed)


def _env(ctx: SamplingContext, budget: float, seed: int, picks: int = 1):
    env = _envs.SpotSamplingEnv(ctx.task, seed=seed, budget_ratio=budget, mode="marginal", picks_per_step=picks)
    env.reset(seed)
    return env


def select(ctx: SamplingContext, sampler: str, budget: float, seed: int) -> torch.Tensor:
    if not (0.0 < budget <= 1.0):
        raise ValueError(f"budget must be in (0, 1], got {budget}")
    if budget * ctx.n < 1:
        raise ValueError(f"budget {budget:g} selects no spot of the {ctx.n}-spot pool; the smallest budget is "
                         f"1/{ctx.n} = {1 / ctx.n:.3g}")
    if sampler in BASELINES:
        env = _env(ctx, budget, seed)
        picks = _envs.baseline_select(env, BASELINES[sampler], env.budget_total, seed)
        return torch.as_tensor(sorted(picks), dtype=torch.int64)
    if sampler == "scrl":
        from .scrl import LearnedSampler

        key = round(budget, 6)
        if key not in ctx._policies:
            ctx._policies[key] = LearnedSampler.train(ctx, budget, ctx.cfg.scrl_episodes, ctx.cfg.seed)
        return ctx._policies[key].select(ctx, budget, seed)
    raise ValueError(f"unknown sampler {sampler!r}; choose from scrl, {', '.join(BASELINES)}")

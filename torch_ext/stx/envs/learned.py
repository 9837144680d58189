"""The learned sampler: a permutation-equivariant ("pointer-like") spot scorer for sb3-contrib's
MaskablePPO.

Every spot is scored by one shared MLP from its own inputs and the set context: its features
(standardised per section), coordinates, sampled flag, how close it is in feature space (cosine and
standardised Euclidean) and in the tissue to the nearest spot sampled so far, its feature-space
distance relative to the farthest candidate, and the budget left. The
action logits are the scores, so one policy works on any section and any number of spots; the value
head reads a pooled summary (mean over all spots and over the sampled ones), never a flat vector of
spots. The score layers start at zero: the untrained policy is uniform random sampling, and
anything better is learned.
"""
from __future__ import annotations

import math

import gymnasium as gym
import torch
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["SpotSetExtractor", "SpotScoringPolicy", "spot_context"]

#: Names of the per-spot set-context inputs of :func:`spot_context`, in order.
CONTEXT_NAMES = ("sampled", "max_cos_sampled", "min_feat_dist_sampled", "rel_feat_dist", "min_tissue_dist_sampled",
                 "rel_tissue_dist", "budget_left")


def spot_context(obs: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
    """Per-spot inputs from a batched observation: ``(x, ctx)`` with ``x`` [B, N, F] the features
    standardised over each section's spots and ``ctx`` [B, N, len(CONTEXT_NAMES)] the set context.

    Distances to "the nearest sampled spot" use a fixed fill when nothing is sampled yet; the
    relative distances divide by their maximum over the spots still allowed (``action_mask``)."""
    x, xy = obs["features"].float(), obs["coords"].float()
    sampled = obs["sampled"].float()
    allowed = obs["action_mask"].float() if "action_mask" in obs else 1.0 - sampled
    b, n, f = x.shape
    x = (x - x.mean(1, keepdim=True)) / x.std(1, keepdim=True).clamp_min(1e-6)
    z = nn.functional.normalize(x, dim=-1)
    # Nearest sampled spot: compare with the sampled ones only (at most the budget), [B, N, K].
    kk = max(int(sampled.sum(1).max().item()), 1)
    picked = sampled.topk(kk, 1).indices
    valid = sampled.gather(1, picked).unsqueeze(1).bool()  # [B, 1, K]
    none = ~valid.any(2)  # [B, 1]: nothing sampled yet
    xs = x.gather(1, picked.unsqueeze(-1).expand(-1, -1, f))
    zs = z.gather(1, picked.unsqueeze(-1).expand(-1, -1, f))
    max_cos = torch.bmm(z, zs.transpose(1, 2)).masked_fill(~valid, -1.0).amax(2)
    fdist = (torch.cdist(x, xs) / math.sqrt(f)).masked_fill(~valid, float("inf")).amin(2)
    xys = xy.gather(1, picked.unsqueeze(-1).expand(-1, -1, 2))
    tdist = torch.cdist(xy, xys).masked_fill(~valid, float("inf")).amin(2)
    fdist = torch.where(none, torch.full_like(fdist, 2.0), fdist)
    tdist = torch.where(none, torch.full_like(tdist, 1.5), tdist)

    def relative(d: torch.Tensor) -> torch.Tensor:
        top = (d * allowed).amax(1, keepdim=True).clamp_min(1e-6)
        return (d / top).clamp(max=1.0)

    budget = obs["budget_left"].float().reshape(b, 1).expand(-1, n)
    ctx = torch.stack([sampled, max_cos, fdist, relative(fdist), tdist, relative(tdist), budget], -1)
    return x, ctx


class SpotSetExtractor(BaseFeaturesExtractor):
    """obs dict -> [B, N + 2H + 1]: N per-spot scores, then a pooled summary (mean spot embedding,
    mean embedding of the sampled spots, budget left)."""

    def __init__(self, observation_space: gym.spaces.Dict, hidden: int = 64):
        n, f = observation_space["features"].shape
        super().__init__(observation_space, features_dim=n + 2 * hidden + 1)
        self.num_spots, self.hidden = n, hidden
        c = len(CONTEXT_NAMES)
        self.embed = nn.Sequential(nn.Linear(f + 2 + c, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        # Second, set-aware layer: each spot also sees the mean embedding of the sampled spots.
        self.mix = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU())
        self.score = nn.Linear(hidden, 1)
        # A linear path from the context inputs straight to the score: the cue PPO picks up first.
        self.direct = nn.Linear(c, 1, bias=False)
        for layer in (self.score, self.direct):  # uniform over the valid spots at the start
            nn.init.zeros_(layer.weight)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        x, ctx = spot_context(obs)
        sampled = ctx[..., :1]
        h = self.embed(torch.cat([x, obs["coords"].float(), ctx], -1))
        h_sampled = (h * sampled).sum(1) / sampled.sum(1).clamp_min(1.0)  # [B, H]
        h2 = self.mix(torch.cat([h, h_sampled.unsqueeze(1).expand_as(h)], -1))
        scores = (self.score(h2) + self.direct(ctx)).squeeze(-1)
        return torch.cat([scores, h2.mean(1), h_sampled, ctx[:, 0, -1:]], 1)


class _SplitHeads(nn.Module):
    """SB3 ``mlp_extractor``: the actor latent is the N scores, the critic an MLP of the pooled part."""

    def __init__(self, num_spots: int, pooled_dim: int, hidden: int):
        super().__init__()
        self.n = num_spots
        self.latent_dim_pi, self.latent_dim_vf = num_spots, hidden
        self.critic = nn.Sequential(nn.Linear(pooled_dim, hidden), nn.Tanh())

    def forward(self, features: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.forward_actor(features), self.forward_critic(features)

    def forward_actor(self, features: torch.Tensor) -> torch.Tensor:
        return features[:, : self.n]

    def forward_critic(self, features: torch.Tensor) -> torch.Tensor:
        return self.critic(features[:, self.n:])


class SpotScoringPolicy(MaskableMultiInputActorCriticPolicy):
    """MaskablePPO policy whose action logits are the extractor's per-spot scores. The actor and
    the critic have their own extractors by default (``share_features_extractor=False``), so the
    value loss does not move the scorer."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("features_extractor_class", SpotSetExtractor)
        kwargs.setdefault("ortho_init", False)
        kwargs.setdefault("share_features_extractor", False)
        super().__init__(*args, **kwargs)

    def _build_mlp_extractor(self) -> None:
        fx = self.features_extractor
        self.mlp_extractor = _SplitHeads(fx.num_spots, fx.features_dim - fx.num_spots, 64)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = nn.Identity()
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

"""The learned sampler: a permutation-equivariant spot scorer for sb3-contrib's MaskablePPO.

Every spot is scored by one shared MLP from its own features and coordinates, the budget left,
and how close it is (in feature and in tissue space) to the spots sampled so far, so one policy
works on any section. The logits are the scores; the value head reads pooled spot embeddings.
"""
from __future__ import annotations

import gymnasium as gym
import torch
from sb3_contrib.common.maskable.policies import MaskableMultiInputActorCriticPolicy
from stable_baselines3.common.torch_layers import BaseFeaturesExtractor
from torch import nn

__all__ = ["SpotSetExtractor", "SpotScoringPolicy"]


class SpotSetExtractor(BaseFeaturesExtractor):
    """obs dict -> [B, N + H]: N per-spot scores followed by an H-dim pooled summary."""

    def __init__(self, observation_space: gym.spaces.Dict, hidden: int = 64):
        n, f = observation_space["features"].shape
        super().__init__(observation_space, features_dim=n + hidden)
        self.num_spots = n
        self.embed = nn.Sequential(nn.Linear(f + 2 + 4, hidden), nn.ReLU(), nn.Linear(hidden, hidden), nn.ReLU())
        self.score = nn.Linear(hidden, 1)
        # A linear path from the novelty inputs (nearest sampled spot in feature / tissue space)
        # straight to the score, starting at zero: the cue PPO can pick up first.
        self.novelty = nn.Linear(2, 1, bias=False)
        nn.init.zeros_(self.novelty.weight)

    def forward(self, obs: dict[str, torch.Tensor]) -> torch.Tensor:
        x, xy = obs["features"], obs["coords"]
        sampled = obs["sampled"].float()
        budget = obs["budget_left"].float().expand(-1, self.num_spots).unsqueeze(-1)
        z = nn.functional.normalize(x - x.mean(1, keepdim=True), dim=-1)
        # Compare every spot with the sampled ones only (at most the budget): [B, N, K], not [B, N, N].
        k = max(int(sampled.sum(1).max().item()), 1)
        picked = sampled.topk(k, 1).indices
        valid = sampled.gather(1, picked).unsqueeze(1).bool()
        zs = z.gather(1, picked.unsqueeze(-1).expand(-1, -1, z.size(-1)))
        xys = xy.gather(1, picked.unsqueeze(-1).expand(-1, -1, 2))
        max_sim = torch.bmm(z, zs.transpose(1, 2)).masked_fill(~valid, -1.0).max(2).values
        min_dist = torch.cdist(xy, xys).masked_fill(~valid, 2.0).min(2).values
        h = self.embed(torch.cat([x, xy, sampled.unsqueeze(-1), max_sim.unsqueeze(-1), min_dist.unsqueeze(-1),
                                  budget], -1))
        scores = (self.score(h) + self.novelty(torch.stack([max_sim, min_dist], -1))).squeeze(-1)
        return torch.cat([scores, h.mean(1)], 1)


class _Scores(nn.Module):
    def __init__(self, n: int):
        super().__init__()
        self.n = n

    def forward(self, latent: torch.Tensor) -> torch.Tensor:
        return latent[:, : self.n]


class SpotScoringPolicy(MaskableMultiInputActorCriticPolicy):
    """MaskablePPO policy whose action logits are the extractor's per-spot scores."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("features_extractor_class", SpotSetExtractor)
        kwargs.setdefault("net_arch", dict(pi=[], vf=[64]))
        kwargs.setdefault("ortho_init", False)
        super().__init__(*args, **kwargs)

    def _build(self, lr_schedule) -> None:
        super()._build(lr_schedule)
        self.action_net = _Scores(self.features_extractor.num_spots)
        self.optimizer = self.optimizer_class(self.parameters(), lr=lr_schedule(1), **self.optimizer_kwargs)

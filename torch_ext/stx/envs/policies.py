"""Baseline sampling policies (implemented in C++; they see only the observation: features,
coordinates and the sampled mask) and Gumbel-top-k sampling of k spots from policy logits."""
from __future__ import annotations

import torch

from stx.envs.spot_sampling import SpotSamplingEnv
from stx.envs.tasks import _native

__all__ = ["BASELINE_POLICIES", "BaselinePolicy", "run_baseline_episode", "gumbel_topk"]

BASELINE_POLICIES: tuple[str, ...] = tuple(_native.baseline_policy_names())


class BaselinePolicy:
    """``act(env)`` returns the next action of a baseline (``random``, ``grid``, ``kcenter``,
    ``kmeans``, ``density``). The whole episode is planned at its first step and replayed."""

    def __init__(self, name: str, seed: int = 0):
        if name not in BASELINE_POLICIES:
            raise ValueError(f"policy must be one of {BASELINE_POLICIES}, got {name!r}")
        self.name, self.seed = name, seed
        self._plan: list[int] = []
        self._owner = None

    def act(self, env: SpotSamplingEnv):
        native = env.unwrapped.native
        if native.elapsed_steps == 0 or self._owner is not native or not self._plan:
            self._plan = _native.baseline_select(native, self.name, native.spots_left, self.seed)
            self._owner = native
        k = native.picks_this_step
        picks, self._plan = self._plan[:k], self._plan[k:]
        if env.unwrapped.config.picks_per_step == 1:
            return picks[0]
        action = torch.zeros(native.num_spots, dtype=torch.int8)
        action[picks] = 1
        return action.numpy()


def run_baseline_episode(env: SpotSamplingEnv, policy: str, seed: int = 0) -> float:
    """Reset ``env`` with ``seed``, run one episode of a baseline in C++, return the total reward."""
    return _native.run_baseline_episode(env.unwrapped.native, policy, seed)


def gumbel_topk(logits: torch.Tensor, mask: torch.Tensor, k: int, seed: int = 0) -> torch.Tensor:
    """k distinct valid indices per row of ``logits`` ([N] or [B, N]), distributed as sampling
    without replacement from softmax(logits) restricted to ``mask``."""
    return _native.gumbel_topk(logits, mask, k, seed)

"""stx.envs: the spot-sampling environment (C++ core, namespace ``stx::envs``) for Gymnasium,
Stable-Baselines3 / sb3-contrib, TorchRL and native LibTorch. See docs/envs.md.

``import stx`` registers ``gymnasium.make("stx/SpotSampling-v0", ...)`` (and ``make_vec``).
"""
from __future__ import annotations

import gymnasium as _gym

from stx.envs.policies import BASELINE_POLICIES, BaselinePolicy, gumbel_topk, run_baseline_episode
from stx.envs.spot_sampling import EnvConfig, SpotSamplingEnv, env_config, observation_space
from stx.envs.tasks import (SingleCellPrior, SpotSamplingTask, build_prior, load_task, make_task, synthetic_data,
                            synthetic_task)
from stx.envs.tasks import _native
from stx.envs.vector import SpotSamplingVectorEnv

ConcurrentUseError = _native.ConcurrentUseError  # a RuntimeError: one env used by two threads at once
MAX_CELL_TYPES = _native.MAX_CELL_TYPES  # the documented limit on cell types of a reference

ENV_ID = "stx/SpotSampling-v0"

if ENV_ID not in _gym.registry:
    _gym.register(id=ENV_ID, entry_point="stx.envs.spot_sampling:SpotSamplingEnv",
                  vector_entry_point="stx.envs.vector:SpotSamplingVectorEnv")


def __getattr__(name: str):
    # Adapters that import optional RL libraries load on first use.
    if name == "SpotSamplingSB3VecEnv":
        from stx.envs.sb3 import SpotSamplingSB3VecEnv
        return SpotSamplingSB3VecEnv
    if name == "make_torchrl_env":
        from stx.envs.torchrl import make_torchrl_env
        return make_torchrl_env
    if name in ("SpotScoringPolicy", "SpotSetExtractor"):
        from stx.envs import learned
        return getattr(learned, name)
    raise AttributeError(f"module 'stx.envs' has no attribute {name!r}")


__all__ = ["ENV_ID", "EnvConfig", "ConcurrentUseError", "MAX_CELL_TYPES", "SpotSamplingEnv", "SpotSamplingVectorEnv", "SpotSamplingSB3VecEnv", "make_torchrl_env",
           "SpotScoringPolicy", "SpotSetExtractor", "SingleCellPrior", "SpotSamplingTask", "build_prior", "make_task",
           "load_task", "synthetic_data", "synthetic_task", "env_config", "observation_space", "BASELINE_POLICIES",
           "BaselinePolicy", "run_baseline_episode", "gumbel_topk"]

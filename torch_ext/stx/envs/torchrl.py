"""TorchRL front end: the Gymnasium env under ``torchrl.envs.GymWrapper`` with categorical actions;
the observation's ``action_mask`` key feeds ``torchrl.envs.transforms.ActionMask``."""
from __future__ import annotations

from typing import Any

from stx.envs.spot_sampling import SpotSamplingEnv

__all__ = ["make_torchrl_env"]


def make_torchrl_env(device: str = "cpu", **env_kwargs: Any):
    from torchrl.envs import GymWrapper

    return GymWrapper(SpotSamplingEnv(**env_kwargs), categorical_action_encoding=True, device=device)

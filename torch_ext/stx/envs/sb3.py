"""Stable-Baselines3 ``VecEnv`` adapter over the C++ vector env (SB3's same-step autoreset:
``terminal_observation`` and ``TimeLimit.truncated`` in ``infos``; ``env_method("action_masks")``
for sb3-contrib's MaskablePPO)."""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from stable_baselines3.common.vec_env.base_vec_env import VecEnv

from stx.envs.vector import SpotSamplingVectorEnv

__all__ = ["SpotSamplingSB3VecEnv"]


class SpotSamplingSB3VecEnv(VecEnv):
    def __init__(self, vector_env: SpotSamplingVectorEnv | None = None, **kwargs):
        self.venv = vector_env if vector_env is not None else SpotSamplingVectorEnv(**kwargs)
        self.render_mode = None
        super().__init__(self.venv.num_envs, self.venv.single_observation_space, self.venv.single_action_space)
        self._actions: np.ndarray | None = None
        self._seed: int | None = None

    def _copy_obs(self) -> dict[str, np.ndarray]:
        return {k: np.array(v) for k, v in self.venv._obs().items()}

    def reset(self):
        self.venv.reset(seed=self._seed)
        self._seed = None
        return self._copy_obs()

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = np.asarray(actions)

    def step_wait(self):
        _, reward, terminated, truncated, info = self.venv.step(self._actions)
        dones = terminated | truncated
        rewards = reward.astype(np.float32)
        obs = self._copy_obs()
        infos: list[dict[str, Any]] = [
            {"reward_sc": info["reward_sc"][i], "reward_type": info["reward_type"][i],
             "reward_spatial": info["reward_spatial"][i], "invalid_action": bool(info["invalid_action"][i])}
            for i in range(self.num_envs)]
        done_ids = np.flatnonzero(dones)
        if done_ids.size:
            for i in done_ids:
                infos[i]["terminal_observation"] = {k: v[i].copy() for k, v in obs.items()}
                infos[i]["TimeLimit.truncated"] = bool(truncated[i] and not terminated[i])
            self.venv.reset(options={"reset_mask": dones})
            fresh = self._copy_obs()
            for k in obs:
                obs[k][done_ids] = fresh[k][done_ids]
        return obs, rewards, dones.copy(), infos

    def action_masks(self) -> np.ndarray:
        return self.venv.action_masks()

    def close(self) -> None:
        self.venv.close()

    def seed(self, seed: int | None = None) -> Sequence[None | int]:
        self._seed = seed
        return [None if seed is None else seed + i for i in range(self.num_envs)]

    def _indices(self, indices) -> list[int]:
        if indices is None:
            return list(range(self.num_envs))
        return [indices] if isinstance(indices, int) else list(indices)

    def get_attr(self, attr_name: str, indices=None) -> list[Any]:
        return [getattr(self, attr_name) for _ in self._indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices=None) -> None:
        raise AttributeError(f"SpotSamplingSB3VecEnv has no settable attribute {attr_name!r}")

    def env_method(self, method_name: str, *method_args, indices=None, **method_kwargs) -> list[Any]:
        if method_name != "action_masks":
            raise AttributeError(f"SpotSamplingSB3VecEnv supports env_method('action_masks') only, got {method_name!r}")
        masks = self.venv.action_masks()
        return [masks[i] for i in self._indices(indices)]

    def has_attr(self, attr_name: str) -> bool:
        return attr_name == "action_masks" or hasattr(self, attr_name)

    def env_is_wrapped(self, wrapper_class, indices=None) -> list[bool]:
        return [False for _ in self._indices(indices)]

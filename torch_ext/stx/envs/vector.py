"""``SpotSamplingVectorEnv``: a ``gymnasium.vector.VectorEnv`` over the C++ vector env (M envs
stepped by a C++ thread pool with the GIL released, next-step autoreset)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from stx.envs.spot_sampling import DEFAULT_WEIGHTS, env_config, observation_space, resolve_task
from stx.envs.tasks import SpotSamplingTask, _native

__all__ = ["SpotSamplingVectorEnv"]


class SpotSamplingVectorEnv(VectorEnv):
    """M spot-sampling envs; env i runs ``tasks[i % len(tasks)]`` (same N and F) seeded ``seed + i``.

    Observations are views of the C++ batch buffers (no copy); they are overwritten by the next
    ``step``/``reset``, so copy what you keep. ``features`` is a broadcast view when all envs share
    one task. Autoreset is ``NEXT_STEP``: the step after an episode ends resets that env and ignores
    its action. ``reset(options={"reset_mask": bool[M]})`` resets only the masked envs.
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, tasks: SpotSamplingTask | Sequence[SpotSamplingTask] | None = None, num_envs: int = 4, *,
                 seed: int = 0, num_threads: int = 0, data: Any = None, synthetic: Mapping[str, Any] | None = None,
                 budget_ratio: float = 0.1, mode: str = "marginal", weights: Sequence[float] = DEFAULT_WEIGHTS,
                 picks_per_step: int = 1, max_steps: int = 0, exclude_initial: bool = True):
        if tasks is None or isinstance(tasks, SpotSamplingTask):
            tasks = [resolve_task(tasks, data, synthetic)]
        self.tasks = list(tasks)
        self.config = env_config(budget_ratio=budget_ratio, mode=mode, weights=weights,
                                 picks_per_step=picks_per_step, max_steps=max_steps, exclude_initial=exclude_initial)
        self._vec = _native.SpotSamplingVecEnv(self.tasks, num_envs, seed, num_threads, **self.config)
        self.num_envs = num_envs
        n = self._vec.num_spots
        self.single_observation_space = observation_space(self.tasks[0])
        self.single_action_space = spaces.Discrete(n) if picks_per_step == 1 else spaces.MultiBinary(n)
        self.observation_space = batch_space(self.single_observation_space, num_envs)
        self.action_space = batch_space(self.single_action_space, num_envs)
        if len(self.tasks) == 1:
            f = self.tasks[0].features.numpy()
            self._features = np.broadcast_to(f, (num_envs, *f.shape))
        else:
            idx = self._vec.task_index.numpy()
            self._features = np.stack([self.tasks[i].features.numpy() for i in idx])
        self._coords = np.stack([self.tasks[i].unit_coords.numpy() for i in self._vec.task_index.numpy()])
        self._sampled = self._vec.sampled.numpy()
        self._mask = self._vec.action_mask.numpy()
        self._budget = self._vec.budget_left.numpy().reshape(num_envs, 1)
        self._reward = self._vec.reward.numpy()
        self._terminated = self._vec.terminated.numpy()
        self._truncated = self._vec.truncated.numpy()
        self._terms = self._vec.terms.numpy()

    @property
    def native(self):
        return self._vec

    def _obs(self) -> dict[str, np.ndarray]:
        return {"features": self._features, "coords": self._coords, "sampled": self._sampled,
                "action_mask": self._mask, "budget_left": self._budget}

    def _infos(self) -> dict[str, np.ndarray]:
        return {"reward_sc": self._terms[:, 0], "reward_type": self._terms[:, 1], "reward_spatial": self._terms[:, 2]}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)} (only reset_mask)")
        ids = [] if mask is None else np.flatnonzero(np.asarray(mask, dtype=bool)).tolist()
        if mask is not None and not ids:
            return self._obs(), self._infos()
        self._vec.reset(seed, ids)
        return self._obs(), self._infos()

    def step(self, actions):
        a = np.asarray(actions)
        if isinstance(self.single_action_space, spaces.MultiBinary):
            k = self.config["picks_per_step"]
            a = np.stack([np.concatenate([np.flatnonzero(r), np.full(k, -1)])[:k] for r in a.reshape(self.num_envs, -1)])
        self._vec.step(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)))
        return self._obs(), self._reward, self._terminated, self._truncated, self._infos()

    def action_masks(self) -> np.ndarray:
        """bool [M, N] valid actions of the current observations."""
        return self._mask.astype(bool)

    def close_extras(self, **kwargs):
        pass

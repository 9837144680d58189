"""``SpotSamplingVectorEnv``: a ``gymnasium.vector.VectorEnv`` over the C++ vector env (M envs
stepped by a C++ thread pool with the GIL released, next-step autoreset)."""
from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np
import torch
from gymnasium import spaces
from gymnasium.vector import AutoresetMode, VectorEnv
from gymnasium.vector.utils import batch_space

from stx.envs.spot_sampling import binary_picks, env_config, integral_actions, observation_space, resolve_task
from stx.envs.tasks import SpotSamplingTask, _native

__all__ = ["SpotSamplingVectorEnv"]


class SpotSamplingVectorEnv(VectorEnv):
    """M spot-sampling envs; env i runs ``tasks[i % len(tasks)]`` (same N and F) seeded ``seed + i``.

    Observations are views of the C++ batch buffers (no copy); they are overwritten by the next
    ``step``/``reset``, so copy what you keep. ``features`` is a broadcast view when all envs share
    one task. Autoreset is ``NEXT_STEP``: the step after an episode ends resets that env and ignores
    its action. ``reset(options={"reset_mask": bool[M]})`` resets only the masked envs.
    Configuration keywords: see :func:`stx.envs.env_config` (``invalid_action="penalize"`` turns
    invalid actions into flagged no-op steps, ``infos["invalid_action"]``). One vector env must be
    used by one thread at a time (a second thread gets ``ConcurrentUseError``, a ``RuntimeError``).
    """

    metadata = {"autoreset_mode": AutoresetMode.NEXT_STEP, "render_modes": []}

    def __init__(self, tasks: SpotSamplingTask | Sequence[SpotSamplingTask] | None = None, num_envs: int = 4, *,
                 seed: int = 0, num_threads: int = 0, data: Any = None, synthetic: Mapping[str, Any] | None = None,
                 **config: Any):
        if tasks is None or isinstance(tasks, SpotSamplingTask):
            tasks = [resolve_task(tasks, data, synthetic)]
        self.tasks = list(tasks)
        self.config = env_config(**config)
        self._vec = _native.SpotSamplingVecEnv(self.tasks, num_envs, seed, num_threads, self.config)
        self.num_envs = num_envs
        n = self._vec.num_spots
        self.single_observation_space = observation_space(self.tasks[0])
        self.single_action_space = spaces.Discrete(n) if self.config.picks_per_step == 1 else spaces.MultiBinary(n)
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
        self._invalid = self._vec.invalid_action.numpy()
        self._terms = self._vec.terms.numpy()

    @property
    def native(self):
        return self._vec

    def _obs(self) -> dict[str, np.ndarray]:
        return {"features": self._features, "coords": self._coords, "sampled": self._sampled,
                "action_mask": self._mask, "budget_left": self._budget}

    def _infos(self) -> dict[str, np.ndarray]:
        return {"reward_sc": self._terms[:, 0], "reward_type": self._terms[:, 1], "reward_spatial": self._terms[:, 2],
                "invalid_action": self._invalid}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        options = dict(options or {})
        mask = options.pop("reset_mask", None)
        if options:
            raise ValueError(f"unknown reset options {sorted(options)} (only reset_mask)")
        ids = [] if mask is None else self._reset_ids(mask)
        if mask is not None and not ids:
            return self._obs(), self._infos()
        self._vec.reset(seed, ids)
        return self._obs(), self._infos()

    def _reset_ids(self, mask) -> list[int]:
        m = np.asarray(mask)
        if m.shape != (self.num_envs,):
            raise ValueError(f"reset_mask must have shape ({self.num_envs},) (one flag per env), got {m.shape}")
        m = integral_actions(m, "reset_mask", allow_bool=True)
        if ((m != 0) & (m != 1)).any():
            raise ValueError(f"reset_mask must hold booleans (0 or 1), got {m!r}")
        return np.flatnonzero(m).tolist()

    def step(self, actions):
        if isinstance(self.single_action_space, spaces.MultiBinary):
            n, k = self.single_action_space.n, self.config.picks_per_step
            rows = binary_picks(np.asarray(actions).reshape(self.num_envs, -1), n, "actions")
            a = np.full((self.num_envs, k), -1, dtype=np.int64)  # -1: out of range, an invalid pick
            for i, row in enumerate(rows):
                picks, env = np.flatnonzero(row), self._vec.env(i)
                if not env.done and len(picks) != env.picks_this_step:
                    if self.config.invalid_action == "penalize":
                        continue  # the C++ env answers the -1 row with a flagged no-op
                    raise ValueError(f"actions: env {i} must pick exactly {env.picks_this_step} spot(s) at this step "
                                     f"(MultiBinary ones), got {len(picks)}")
                a[i, :min(len(picks), k)] = picks[:k]
        else:
            a = integral_actions(actions, "actions")
        self._vec.step(torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64)))
        return self._obs(), self._reward, self._terminated, self._truncated, self._infos()

    def action_masks(self) -> np.ndarray:
        """bool [M, N] valid actions of the current observations."""
        return self._mask.astype(bool)

    def close_extras(self, **kwargs):
        pass

"""``SpotSamplingEnv``: the Gymnasium front end of the C++ spot-sampling environment."""
from __future__ import annotations

from typing import Any, Mapping

import gymnasium as gym
import numpy as np
from gymnasium import spaces

from stx.envs.tasks import SpotSamplingTask, _native, load_task, synthetic_task

__all__ = ["SpotSamplingEnv", "EnvConfig", "env_config", "observation_space", "resolve_task", "integral_actions",
           "binary_picks"]

#: stx::envs::EnvConfig: every key and default lives in C++; Python restates none of them.
EnvConfig = _native.EnvConfig


def env_config(config: EnvConfig | None = None, /, **overrides: Any) -> EnvConfig:
    """The native ``EnvConfig``: ``config`` (or C++'s defaults) with keyword overrides. Keys
    (``EnvConfig.keys()``): ``budget_ratio``, ``mode``, ``weights``, ``picks_per_step``,
    ``max_steps``, ``exclude_initial``, ``invalid_action``, ``invalid_penalty``; an unknown key, a
    wrong type or an unknown name raises ``ValueError`` (values are checked against the section
    when an env is built).

    ``invalid_action="raise"`` (default) raises ``ValueError`` for an out-of-range, masked or
    repeated action or a wrong number of picks; ``"penalize"`` answers it with a no-op step
    rewarded ``-invalid_penalty`` and ``info["invalid_action"] = True`` (what the standard env
    checkers and RL libraries that sample random actions expect)."""
    return EnvConfig(**{**(config.as_dict() if config is not None else {}), **overrides})


def integral_actions(action, what: str = "actions", *, allow_bool: bool = False) -> np.ndarray:
    """``action`` as int64 without silent truncation: integer arrays (bool ones too with
    ``allow_bool``), or floats that hold exact integers (a policy's float output); NaN, infinities,
    fractions and other dtypes raise ``ValueError``."""
    a = np.asarray(action)
    if np.issubdtype(a.dtype, np.integer) or (allow_bool and a.dtype == np.bool_):
        return a.astype(np.int64)
    if np.issubdtype(a.dtype, np.floating):
        if not np.isfinite(a).all() or (a != np.trunc(a)).any() or (np.abs(a) >= 2.0**53).any():
            raise ValueError(f"{what} must hold integers, got {a.dtype} values that are not exact integers (NaN, "
                             f"infinite or fractional): {a.reshape(-1)[:8]!r}")
        return a.astype(np.int64)
    raise ValueError(f"{what} must be integers, got dtype {a.dtype}")


def binary_picks(action, n: int, what: str = "action") -> np.ndarray:
    """A ``MultiBinary(n)`` action (or a batch [M, n]) checked to hold only 0 and 1."""
    a = integral_actions(action, what, allow_bool=True)
    if a.shape[-1:] != (n,):
        raise ValueError(f"{what} must be MultiBinary({n}) vectors, got shape {a.shape}")
    bad = np.flatnonzero((a != 0) & (a != 1))
    if bad.size:
        raise ValueError(f"{what} must hold only 0 and 1 (MultiBinary({n})), got {a.reshape(-1)[bad[0]]} at flat "
                         f"position {bad[0]}")
    return a


def resolve_task(task: SpotSamplingTask | None = None, data: Any = None,
                 synthetic: Mapping[str, Any] | None = None) -> SpotSamplingTask:
    """``task`` as given, else a task from ``data`` (mapping or .npz path), else the synthetic section."""
    if task is not None:
        if data is not None or synthetic is not None:
            raise ValueError("pass only one of task, data, synthetic")
        return task
    if data is not None:
        return load_task(data)
    return synthetic_task(**dict(synthetic or {}))


def observation_space(task: SpotSamplingTask) -> spaces.Dict:
    """features [N, F] float32 (bounded by the task's min/max), coords [N, 2] float32 in [0, 1] (per
    section), sampled [N] int8 {0, 1}, action_mask [N] int8 {0, 1}, budget_left [1] float32 in [0, 1]."""
    n, f = task.num_spots, task.feature_dim
    return spaces.Dict({
        "features": spaces.Box(task.feature_min, task.feature_max, (n, f), np.float32),
        "coords": spaces.Box(0.0, 1.0, (n, 2), np.float32),
        "sampled": spaces.MultiBinary(n),
        "action_mask": spaces.MultiBinary(n),
        "budget_left": spaces.Box(0.0, 1.0, (1,), np.float32),
    })


class SpotSamplingEnv(gym.Env):
    """Choose which spots of a tissue section to sequence under a budget of floor(rho * N) spots.

    Action: ``Discrete(N)`` (one spot; ``picks_per_step > 1``: ``MultiBinary(N)`` with exactly
    :meth:`picks_this_step` ones). A masked, out-of-range or repeated action raises ``ValueError``
    and leaves the state unchanged (``invalid_action="penalize"``: a no-op step rewarded
    ``-invalid_penalty``, ``info["invalid_action"]``). Non-integral, NaN or non-0/1 MultiBinary
    values always raise. Configuration keywords: see :func:`env_config`. ``terminated`` when the budget is spent; ``truncated`` at
    ``max_steps``. The reward is the weighted sum of the terms reported in ``info``
    (``reward_sc``, ``reward_type``, ``reward_spatial``); see docs/envs.md for both modes.
    """

    metadata = {"render_modes": [], "render_fps": 1}

    def __init__(self, task: SpotSamplingTask | None = None, *, data: Any = None,
                 synthetic: Mapping[str, Any] | None = None, render_mode: str | None = None, **config: Any):
        if render_mode is not None:
            raise ValueError(f"render_mode must be None (no rendering), got {render_mode!r}")
        self.task = resolve_task(task, data, synthetic)
        self.config = env_config(**config)
        self._env = _native.SpotSamplingEnv(self.task, 0, self.config)
        n = self.task.num_spots
        self.observation_space = observation_space(self.task)
        self.action_space = spaces.Discrete(n) if self.config.picks_per_step == 1 else spaces.MultiBinary(n)
        self.render_mode = None
        self._features = self.task.features.numpy()
        self._coords = self.task.unit_coords.numpy()
        self._sampled = self._env.sampled()     # live views of the C++ buffers
        self._mask = self._env.action_mask()

    @property
    def native(self):
        """The underlying C++ env (``stx._C.envs.SpotSamplingEnv``)."""
        return self._env

    def _obs(self) -> dict[str, np.ndarray]:
        return {"features": self._features.copy(), "coords": self._coords.copy(), "sampled": self._sampled.copy(),
                "action_mask": self._mask.copy(),
                "budget_left": np.array([self._env.budget_left_fraction], dtype=np.float32)}

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        if options:
            raise ValueError(f"SpotSamplingEnv.reset takes no options, got {sorted(options)}")
        self._env.reset(int(self.np_random.integers(0, 2**63 - 1)))
        sc, ty, sp = self._env.initial_terms
        info = {"initial_reward_sc": sc, "initial_reward_type": ty, "initial_reward_spatial": sp,
                "spots_left": self._env.spots_left}
        return self._obs(), info

    def _picks(self, action) -> list[int]:
        if isinstance(self.action_space, spaces.Discrete):
            a = integral_actions(action, "action")
            if a.size != 1:
                raise ValueError(f"action must be one integer spot index, got shape {a.shape}")
            return a.reshape(1).tolist()
        return np.flatnonzero(binary_picks(np.asarray(action).reshape(-1), self.task.num_spots)).tolist()

    def step(self, action):
        reward, terminated, truncated, (sc, ty, sp), round_complete, invalid = self._env.step(self._picks(action))
        info = {"reward_sc": sc, "reward_type": ty, "reward_spatial": sp, "round_complete": round_complete,
                "invalid_action": invalid, "spots_left": self._env.spots_left}
        return self._obs(), float(reward), bool(terminated), bool(truncated), info

    def action_masks(self) -> np.ndarray:
        """Valid actions (bool [N]) for sb3-contrib's MaskablePPO."""
        return self._mask.astype(bool)

    def picks_this_step(self) -> int:
        return self._env.picks_this_step

    def close(self):
        pass

"""A straightforward NumPy implementation of the spot-sampling env and its reward, written from
docs/envs.md independently of the C++ core: every step recomputes the value of the sampled set
from scratch. It is the test oracle of tests/python/test_env.py and the baseline of
scripts/bench/env.py (a test file, not part of the stx package). Inputs are the task's per-spot
arrays (nearest centroid, nearest cell type). Defaults are the env's (C++ EnvConfig).
"""
from __future__ import annotations

import math

import numpy as np

from stx.envs import EnvConfig

_DEFAULTS = EnvConfig()

__all__ = ["ReferenceSpotSampling", "IncrementalReference", "marginal_value", "faithful_round_value"]


def _pairwise(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.sqrt(((a[:, None, :] - b[None, :, :]) ** 2).sum(-1))


def marginal_value(picks, xy, section, diameter, cluster, ctype, num_clusters, num_types):
    """(V_sc, V_type, V_spatial) of the cumulative set ``picks`` (marginal mode)."""
    picks = np.asarray(picks, dtype=np.int64)
    n = len(xy)
    if len(picks) == 0:
        return 0.0, 0.0, -0.5
    v_sc = len(np.unique(cluster[picks])) / num_clusters
    counts = np.bincount(ctype[picks], minlength=num_types)
    p = counts[counts > 0] / len(picks)
    v_type = float(-(p * np.log(p)).sum() / math.log(num_types)) if num_types > 1 else 0.0
    pair_sum, pair_count, cover = 0.0, 0.0, np.ones(n)
    for s in np.unique(section[picks]):
        sp = picks[section[picks] == s]
        pair_sum += _pairwise(xy[sp], xy[sp]).sum() / diameter[s]
        pair_count += len(sp) * (len(sp) - 1)
        spots = np.flatnonzero(section == s)
        cover[spots] = np.minimum(1.0, _pairwise(xy[spots], xy[sp]).min(1) / diameter[s])
    within = pair_sum / pair_count if pair_count else 0.0
    return v_sc, v_type, 0.5 * (within - cover.mean())


def faithful_round_value(picks, xy, cluster, ctype, num_clusters):
    """The published code's per-round reward terms of the round's picks S_t."""
    picks = np.asarray(picks, dtype=np.int64)
    k = len(picks)
    r_sc = len(np.unique(cluster[picks])) / num_clusters
    _, counts = np.unique(ctype[picks], return_counts=True)
    p = counts / k
    r_type = float(-(p * np.log(p + 1e-9)).sum() / np.log(len(counts) + 1e-9))
    if k < 2:
        return r_sc, r_type, 0.0
    sel = xy[picks]
    d_within = _pairwise(sel, sel).mean()
    d_cover = _pairwise(xy, sel).min(1).mean()
    return r_sc, r_type, (d_within + d_cover) / 2


def _set_task(env, xy, section, diameter, cluster, ctype, num_clusters, num_types):
    """The task arrays both oracles share, as float64 / int64 NumPy arrays."""
    env.xy = np.asarray(xy, dtype=np.float64)
    env.section = np.asarray(section, dtype=np.int64)
    env.diameter = np.asarray(diameter, dtype=np.float64)
    env.cluster = np.asarray(cluster, dtype=np.int64)
    env.ctype = np.asarray(ctype, dtype=np.int64)
    env.num_clusters, env.num_types = num_clusters, num_types


class ReferenceSpotSampling:
    """One env. ``reset(initial)`` takes S0 explicitly (faithful mode), so runs can be aligned."""

    def __init__(self, xy, section, diameter, cluster, ctype, num_clusters, num_types, *,
                 budget_ratio=_DEFAULTS.budget_ratio, mode=_DEFAULTS.mode, weights=_DEFAULTS.weights,
                 exclude_initial=_DEFAULTS.exclude_initial):
        _set_task(self, xy, section, diameter, cluster, ctype, num_clusters, num_types)
        self.mode, self.weights, self.exclude_initial = mode, np.asarray(weights, dtype=np.float64), exclude_initial
        n = len(self.xy)
        spots = math.floor(budget_ratio * n + 1e-9)
        if mode == "marginal":
            self.total = self.round_size = spots
        else:
            # the published code: ratio rho / 3 first, truncated, at least one spot a round
            self.round_size = max(1, int(n * (budget_ratio / 3)))
            self.total = 3 * self.round_size

    def reset(self, initial=()):
        n = len(self.xy)
        self.sampled = np.zeros(n, dtype=np.int8)
        self.mask = np.ones(n, dtype=np.int8)
        self.picks: list[int] = []
        self.round: list[int] = []
        self.picked = 0
        self.initial_terms = (0.0, 0.0, 0.0)
        if self.mode == "faithful":
            initial = list(initial)
            assert len(initial) == self.round_size
            self.sampled[initial] = 1
            if self.exclude_initial:
                self.mask[initial] = 0
            self.initial_terms = faithful_round_value(initial, self.xy, self.cluster, self.ctype, self.num_clusters)
            self.picked = self.round_size

    def _value(self):
        return np.array(marginal_value(self.picks, self.xy, self.section, self.diameter, self.cluster, self.ctype,
                                       self.num_clusters, self.num_types))

    def step(self, actions):
        actions = [int(a) for a in np.atleast_1d(actions)]
        if any(self.mask[a] == 0 for a in actions):
            raise ValueError(f"masked action in {actions}")
        before = self._value() if self.mode == "marginal" else None
        for a in actions:
            self.sampled[a] = 1
            self.mask[a] = 0
        self.picks += actions
        self.round += actions
        self.picked += len(actions)
        if self.mode == "marginal":
            terms = self._value() - before
        elif len(self.round) == self.round_size:
            terms = np.array(faithful_round_value(self.round, self.xy, self.cluster, self.ctype, self.num_clusters))
            self.round = []
        else:
            terms = np.zeros(3)
        return float(self.weights @ terms), self.picked >= self.total, terms


class IncrementalReference:
    """The marginal-mode env in vectorised NumPy with the same incremental updates as the C++ core
    (per step: O(spots of the section) for the coverage, O(picks of the section) for dispersion).
    A stronger NumPy baseline for the benchmark than the from-scratch recomputation above."""

    def __init__(self, xy, section, diameter, cluster, ctype, num_clusters, num_types, *,
                 budget_ratio=_DEFAULTS.budget_ratio, weights=_DEFAULTS.weights):
        _set_task(self, xy, section, diameter, cluster, ctype, num_clusters, num_types)
        self.weights = np.asarray(weights, dtype=np.float64)
        self.members = [np.flatnonzero(self.section == s) for s in range(len(self.diameter))]
        self.total = math.floor(budget_ratio * len(self.xy) + 1e-9)

    def reset(self):
        n = len(self.xy)
        self.mask = np.ones(n, dtype=np.int8)
        self.hit = np.zeros(self.num_clusters, dtype=bool)
        self.counts = np.zeros(self.num_types)
        self.cover = np.ones(n)
        self.picks = [[] for _ in self.members]
        self.pair_sum = self.pair_count = 0.0
        self.n = 0
        self.value = np.array([0.0, 0.0, -0.5])

    def step(self, a):
        a = int(a)
        if not self.mask[a]:
            raise ValueError(f"action {a} is masked")
        self.mask[a] = 0
        s = self.section[a]
        self.hit[self.cluster[a]] = True
        self.counts[self.ctype[a]] += 1
        self.n += 1
        picks = self.picks[s]
        if picks:
            self.pair_sum += 2 * np.sqrt(((self.xy[picks] - self.xy[a]) ** 2).sum(1)).sum() / self.diameter[s]
            self.pair_count += 2 * len(picks)
        picks.append(a)
        m = self.members[s]
        d = np.minimum(1.0, np.sqrt(((self.xy[m] - self.xy[a]) ** 2).sum(1)) / self.diameter[s])
        self.cover[m] = np.minimum(self.cover[m], d)
        p = self.counts[self.counts > 0] / self.n
        v_type = float(-(p * np.log(p)).sum() / math.log(self.num_types)) if self.num_types > 1 else 0.0
        within = self.pair_sum / self.pair_count if self.pair_count else 0.0
        value = np.array([self.hit.sum() / self.num_clusters, v_type, 0.5 * (within - self.cover.mean())])
        terms, self.value = value - self.value, value
        return float(self.weights @ terms), self.n >= self.total, terms

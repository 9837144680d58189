#!/usr/bin/env python
"""Steps per second of the C++ vector env (stx.envs, incremental reward, thread pool) against a
straightforward NumPy implementation of the same env and reward (the tests' oracle
tests/python/env_reference.py, which
recomputes the value of the sampled set every step), side by side on the same action sequences.

    STX_BUILD_DIR=build/env PYTHONPATH=torch_ext .venv/bin/python scripts/bench/env.py [--quick]

All run the same actions from the start of an episode (marginal mode, rho = 0.1): the whole
episode up to N = 4000, else its first --window steps. The from-scratch NumPy env, whose step cost
grows with the sampled set, is timed on its first --recompute-steps steps only, so its ratio is a
lower bound. A second NumPy env with the C++ core's incremental updates, vectorised, is
timed too. Rates are env steps per second (M envs x vector steps / s).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

import stx  # noqa: F401
from stx import envs
from timing import print_header  # noqa: E402  (scripts/bench/timing.py)

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "python"))
from env_reference import IncrementalReference, ReferenceSpotSampling  # noqa: E402  (the tests' NumPy oracle)

native = stx._C.envs


def action_plan(n: int, m: int, steps: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return np.stack([rng.permutation(n)[:steps] for _ in range(m)], 1)  # [steps, M]


def bench_cpp(task, m: int, plan: np.ndarray, threads: int, repeats: int = 3) -> float:
    """Env steps per second (M envs x vector steps / s), best of `repeats`."""
    vec = native.SpotSamplingVecEnv([task], m, 0, threads, budget_ratio=0.1)
    actions = torch.from_numpy(plan)
    best = 0.0
    for _ in range(repeats):
        vec.reset(0)
        t0 = time.perf_counter()
        for a in actions:
            vec.step(a)
        best = max(best, m * len(plan) / (time.perf_counter() - t0))
    return best


def bench_numpy(task, coords, m: int, plan: np.ndarray, cls=ReferenceSpotSampling) -> float:
    """Env steps per second of NumPy envs stepped one after the other."""
    refs = [cls(coords, np.asarray(task.section_index), np.asarray(task.section_diameter),
                                  task.spot_cluster.numpy(), task.spot_type.numpy(), task.num_clusters,
                                  task.num_types, budget_ratio=0.1) for _ in range(m)]
    for r in refs:
        r.reset()
    t0 = time.perf_counter()
    for a in plan:
        for i, r in enumerate(refs):
            r.step(a[i])
    return m * len(plan) / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quick", action="store_true", help="fewer sizes (smoke run)")
    p.add_argument("--window", type=int, default=100, help="steps timed when the episode is longer")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--recompute-steps", type=int, default=40,
                   help="steps timed for the from-scratch NumPy env (its cheapest: the ratio is a lower bound)")
    args = p.parse_args()
    torch.set_num_threads(1)
    sizes = [1000, 4000] if args.quick else [1000, 4000, 16000, 100000]
    batch = [1, 4] if args.quick else [1, 4, 16]
    print_header("scripts/bench/env.py")
    print("| N | M | steps timed | C++ vec env (env steps/s) | NumPy recompute (steps/s) | ratio "
          "| NumPy incremental (steps/s) | ratio |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|")
    for n in sizes:
        data = envs.synthetic_data(num_spots=n)
        prior = envs.build_prior(data["cell_embeddings"], data["cell_types"], num_types=data["num_types"],
                                 num_clusters=48)
        task = envs.make_task(data["features"], data["coords"], data["reward_embedding"], prior)
        budget = int(np.floor(0.1 * n + 1e-9))
        steps = budget if n <= 4000 else min(budget, args.window)
        for m in batch:
            plan = action_plan(n, m, steps, seed=n + m)
            cpp = bench_cpp(task, m, plan, args.threads)
            # The NumPy env is timed on fewer envs when it would take long; its rate is per env step.
            coords = data["coords"].double().numpy()
            few = plan[:, : min(m, 2)]  # NumPy rates are per env step: time at most 2 envs
            ref = bench_numpy(task, coords, few.shape[1], few[: min(steps, args.recompute_steps)])
            inc = bench_numpy(task, coords, few.shape[1], few, IncrementalReference)
            print(f"| {n} | {m} | {steps} | {cpp:,.0f} | {ref:,.1f} | {cpp / ref:,.0f}x | {inc:,.0f} | "
                  f"{cpp / inc:,.1f}x |", flush=True)


if __name__ == "__main__":
    main()

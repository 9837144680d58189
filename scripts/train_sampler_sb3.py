#!/usr/bin/env python
"""Train sb3-contrib MaskablePPO on the stx spot-sampling env and compare it with random sampling
and the baselines on held-out synthetic sections (same world, unseen tissue layouts).

    STX_BUILD_DIR=build/env PYTHONPATH=torch_ext .venv/bin/python scripts/train_sampler_sb3.py --seeds 3

Prints per-seed results and the mean +- sd over seeds of the held-out episode reward.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import stx  # noqa: F401
from stx import envs


def make_tasks(section_seeds, args):
    return [envs.synthetic_task(num_spots=args.num_spots, seed=args.world_seed, section_seed=s) for s in section_seeds]


def evaluate(policy_fn, tasks, args, episodes: int) -> float:
    """Mean episode reward over tasks x episodes (episode seeds 0..episodes-1)."""
    totals = []
    for task in tasks:
        env = envs.SpotSamplingEnv(task, budget_ratio=args.budget, mode=args.mode)
        for ep in range(episodes):
            obs, _ = env.reset(seed=ep)
            done, total = False, 0.0
            while not done:
                obs, r, term, trunc, _ = env.step(policy_fn(env, obs, ep))
                total += r
                done = term or trunc
            totals.append(total)
    return float(np.mean(totals))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--timesteps", type=int, default=12000)
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--num-spots", type=int, default=200)
    p.add_argument("--budget", type=float, default=0.1)
    p.add_argument("--mode", default="marginal", choices=["marginal", "faithful"])
    p.add_argument("--train-sections", type=int, default=8)
    p.add_argument("--test-sections", type=int, default=8)
    p.add_argument("--eval-episodes", type=int, default=5)
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument("--json", help="write the results here")
    args = p.parse_args()
    torch.set_num_threads(2)
    from sb3_contrib import MaskablePPO

    train = make_tasks(range(args.train_sections), args)
    test = make_tasks(range(1000, 1000 + args.test_sections), args)

    def random_policy(env, obs, ep):
        return int(env.np_random.choice(np.flatnonzero(obs["action_mask"])))

    results = {"random": evaluate(random_policy, test, args, args.eval_episodes)}
    for name in envs.BASELINE_POLICIES[1:]:
        results[name] = float(np.mean([envs.run_baseline_episode(envs.SpotSamplingEnv(t, budget_ratio=args.budget,
                                                                                      mode=args.mode), name, 0)
                                       for t in test]))
    learned = []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.time()
        venv = envs.SpotSamplingSB3VecEnv(tasks=train, num_envs=args.num_envs, seed=seed * 1000,
                                          budget_ratio=args.budget, mode=args.mode)
        model = MaskablePPO(envs.SpotScoringPolicy, venv, n_steps=128, batch_size=256, n_epochs=10,
                            learning_rate=3e-3, gamma=1.0, gae_lambda=0.95, ent_coef=0.0, seed=seed, device="cpu")
        model.learn(args.timesteps)

        def learned_policy(env, obs, ep):
            batch = {k: v[None] for k, v in obs.items()}
            action, _ = model.predict(batch, action_masks=env.action_masks()[None], deterministic=True)
            return int(action[0])

        learned.append(evaluate(learned_policy, test, args, 1))
        print(f"seed {seed}: held-out reward {learned[-1]:.3f} (train {time.time() - t0:.0f} s)", flush=True)
    results["maskable_ppo"] = float(np.mean(learned))
    results["maskable_ppo_sd"] = float(np.std(learned, ddof=1)) if len(learned) > 1 else 0.0
    results["maskable_ppo_per_seed"] = learned
    print(f"held-out sections: {args.test_sections} x N={args.num_spots}, rho={args.budget}, mode={args.mode}")
    for k, v in results.items():
        print(f"  {k:>22}: {v}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)


if __name__ == "__main__":
    main()

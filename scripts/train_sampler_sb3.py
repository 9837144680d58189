#!/usr/bin/env python
"""Train sb3-contrib MaskablePPO (policy: ``stx.envs.SpotScoringPolicy``, a shared per-spot scorer)
on the stx spot-sampling env and compare it with random sampling and the baselines on held-out
synthetic sections (same world, unseen tissue layouts: section seeds 1000+).

    .venv/bin/python scripts/train_sampler_sb3.py --seeds 3

For each seed: train on the training sections, evaluate the greedy policy (argmax of the masked
logits) once per held-out section, and random sampling with that seed's episode seeds on the same
sections. Prints per-seed results and the mean +- sd over seeds of the held-out episode reward; the
deterministic baselines are evaluated once.
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


def evaluate(policy_fn, tasks, args, episode_seeds) -> float:
    """Mean episode reward over tasks x episode seeds."""
    totals = []
    for task in tasks:
        env = envs.SpotSamplingEnv(task, budget_ratio=args.budget, mode=args.mode)
        for ep in episode_seeds:
            obs, _ = env.reset(seed=int(ep))
            done, total = False, 0.0
            while not done:
                obs, r, term, trunc, _ = env.step(policy_fn(env, obs))
                total += r
                done = term or trunc
            totals.append(total)
    return float(np.mean(totals))


def random_policy(env, obs):
    return int(env.np_random.choice(np.flatnonzero(obs["action_mask"])))


def train_ppo(train_tasks, seed: int, args):
    from sb3_contrib import MaskablePPO

    torch.manual_seed(seed)
    venv = envs.SpotSamplingSB3VecEnv(tasks=train_tasks, num_envs=args.num_envs, seed=seed * 1000,
                                      budget_ratio=args.budget, mode=args.mode, num_threads=1)
    model = MaskablePPO(envs.SpotScoringPolicy, venv, n_steps=args.n_steps, batch_size=args.batch_size,
                        n_epochs=args.epochs, learning_rate=args.lr, gamma=1.0, gae_lambda=args.gae_lambda,
                        ent_coef=args.ent_coef, clip_range=0.2, max_grad_norm=0.5, seed=seed, device="cpu")
    model.learn(args.timesteps)
    return model


def ppo_policy(model):
    def act(env, obs):
        batch = {k: v[None] for k, v in obs.items()}
        action, _ = model.predict(batch, action_masks=env.action_masks()[None], deterministic=True)
        return int(action[0])
    return act


def mean_sd(values) -> tuple[float, float]:
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--first-seed", type=int, default=0, help="run seeds first-seed .. first-seed + seeds - 1")
    p.add_argument("--timesteps", type=int, default=20000, help="env steps of PPO training per seed")
    p.add_argument("--num-envs", type=int, default=8)
    p.add_argument("--n-steps", type=int, default=64, help="rollout length per env between PPO updates")
    p.add_argument("--batch-size", type=int, default=128)
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--gae-lambda", type=float, default=1.0)
    p.add_argument("--ent-coef", type=float, default=0.0)
    p.add_argument("--num-spots", type=int, default=200)
    p.add_argument("--budget", type=float, default=0.1)
    p.add_argument("--mode", default="marginal", choices=["marginal", "faithful"])
    p.add_argument("--train-sections", type=int, default=8)
    p.add_argument("--test-sections", type=int, default=8)
    p.add_argument("--eval-episodes", type=int, default=5, help="random-sampling episodes per held-out section")
    p.add_argument("--world-seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=1, help="torch intra-op threads")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)
    torch.set_num_threads(args.threads)

    train = make_tasks(range(args.train_sections), args)
    test = make_tasks(range(1000, 1000 + args.test_sections), args)

    baselines = {}
    for name in envs.BASELINE_POLICIES[1:]:
        baselines[name] = float(np.mean([envs.run_baseline_episode(
            envs.SpotSamplingEnv(t, budget_ratio=args.budget, mode=args.mode), name, 0) for t in test]))
    ppo, rnd, ppo_train = [], [], []
    for seed in range(args.first_seed, args.first_seed + args.seeds):
        t0 = time.time()
        model = train_ppo(train, seed, args)
        train_s = time.time() - t0
        ppo.append(evaluate(ppo_policy(model), test, args, [0]))
        ppo_train.append(evaluate(ppo_policy(model), train, args, [0]))
        rnd.append(evaluate(random_policy, test, args, seed * 1000 + np.arange(args.eval_episodes)))
        print(f"seed {seed}: held-out reward MaskablePPO {ppo[-1]:.3f} | random {rnd[-1]:.3f} | "
              f"PPO - random {ppo[-1] - rnd[-1]:+.3f} (PPO on training sections {ppo_train[-1]:.3f}; "
              f"{args.timesteps} steps, {train_s:.0f} s wall)", flush=True)
    results = {"maskable_ppo_per_seed": ppo, "random_per_seed": rnd, "maskable_ppo_train_per_seed": ppo_train,
               "baselines": baselines}
    (pm, ps), (rm, rs) = mean_sd(ppo), mean_sd(rnd)
    dm, ds = mean_sd(np.subtract(ppo, rnd))
    results.update(maskable_ppo=pm, maskable_ppo_sd=ps, random=rm, random_sd=rs, ppo_minus_random=dm,
                   ppo_minus_random_sd=ds)
    print(f"held-out sections: {args.test_sections} x N={args.num_spots}, rho={args.budget}, mode={args.mode}; "
          f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1}")
    print(f"  {'maskable_ppo':>14}: {pm:.3f} +- {ps:.3f}  ({', '.join(f'{v:.3f}' for v in ppo)})")
    print(f"  {'random':>14}: {rm:.3f} +- {rs:.3f}  ({', '.join(f'{v:.3f}' for v in rnd)})")
    print(f"  {'ppo - random':>14}: {dm:+.3f} +- {ds:.3f}")
    for name, v in baselines.items():
        print(f"  {name:>14}: {v:.3f}")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"args": vars(args), "results": results}, f, indent=2)
    return results


if __name__ == "__main__":
    main()

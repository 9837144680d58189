"""The learned sampler (SCRL): a policy-gradient agent trained on the spot-sampling environment.

Policy: an MLP scores every spot from its image features and two state features that need no
expression (distance to the nearest sequenced spot of its section, and that section's sequenced
fraction); a step picks k spots without replacement from softmax(scores) over the action mask
(Gumbel-top-k), whose log-probability is the Plackett-Luce likelihood. Training: REINFORCE with a
running-mean baseline on the environment's marginal reward (gains of single-cell cluster coverage,
cell-type diversity and spatial coverage), Adam. Selection: the same policy, sampled.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from stx._C import envs as _envs

STEPS_PER_EPISODE = 10


class _State:
    """Distance of every spot to the nearest picked spot of its section (unit coordinates)."""

    def __init__(self, ctx):
        self.xy = ctx.task.unit_coords.double()
        self.sec = ctx.section_id
        self.dist = torch.full((ctx.n,), 1.5, dtype=torch.float64)
        n_sec = int(self.sec.max()) + 1
        self.sec_size = torch.bincount(self.sec, minlength=n_sec).double()
        self.sec_picked = torch.zeros(n_sec, dtype=torch.float64)

    def update(self, picks: list[int]) -> None:
        for i in picks:
            same = self.sec == self.sec[i]
            d = (self.xy - self.xy[i]).norm(dim=1)
            self.dist = torch.where(same, torch.minimum(self.dist, d), self.dist)
            self.sec_picked[self.sec[i]] += 1

    def features(self) -> torch.Tensor:
        frac = (self.sec_picked / self.sec_size)[self.sec]
        return torch.stack([self.dist, frac], 1).float()


class _Policy(torch.nn.Module):
    def __init__(self, in_dim: int):
        super().__init__()
        self.net = torch.nn.Sequential(torch.nn.Linear(in_dim + 2, 64), torch.nn.ReLU(), torch.nn.Linear(64, 1))
        # Start at uniform sampling (equal scores): the untrained policy is the random baseline, and
        # training moves away from it only as far as the rewards push it.
        torch.nn.init.zeros_(self.net[2].weight)
        torch.nn.init.zeros_(self.net[2].bias)

    def forward(self, features: torch.Tensor, state: torch.Tensor) -> torch.Tensor:
        return self.net(torch.cat([features, state], 1)).squeeze(1)


def _plackett_luce(scores: torch.Tensor, mask: torch.Tensor, picks: torch.Tensor) -> torch.Tensor:
    """log P(picks in this order) under sequential softmax sampling without replacement."""
    logits = scores.masked_fill(~mask, float("-inf"))
    total = scores.new_zeros(())
    for i in picks.tolist():
        total = total + logits[i] - torch.logsumexp(logits, 0)
        logits = logits.clone()
        logits[i] = float("-inf")
    return total


@dataclass
class LearnedSampler:
    policy: _Policy
    rewards: list[float]

    @classmethod
    def train(cls, ctx, budget: float, episodes: int, seed: int) -> "LearnedSampler":
        torch.manual_seed(seed)
        policy = _Policy(ctx.features.shape[1])
        opt = torch.optim.Adam(policy.parameters(), lr=3e-3)
        baseline, history = None, []
        for ep in range(episodes):
            env, state, k = _new_env(ctx, budget, seed + 7919 * (ep + 1))
            log_probs, rewards = [], []
            step = 0
            while not env.done:
                mask = torch.as_tensor(env.action_mask()).bool()
                scores = policy(ctx.features, state.features())
                picks = _envs.gumbel_topk(scores.detach(), mask.to(torch.int8), env.picks_this_step,
                                          seed * 1_000_003 + ep * 1009 + step)
                log_probs.append(_plackett_luce(scores, mask, picks))
                reward = env.step(picks.tolist())[0]
                rewards.append(reward)
                state.update(picks.tolist())
                step += 1
            ret = torch.tensor(rewards).flip(0).cumsum(0).flip(0)  # undiscounted reward-to-go
            # Episodes of one budget have the same number of steps, so a per-step running mean works.
            # The advantage is taken against the baseline of earlier episodes only (the first episode
            # sets it, so it makes no update); Adam makes the scale of the advantage immaterial.
            if baseline is None or baseline.shape != ret.shape:
                baseline = ret.clone()
            adv = ret - baseline
            baseline = 0.9 * baseline + 0.1 * ret
            loss = -(torch.stack(log_probs) * adv).sum() / max(1, len(rewards))
            opt.zero_grad()
            loss.backward()
            opt.step()
            history.append(float(sum(rewards)))
        return cls(policy=policy, rewards=history)

    @torch.no_grad()
    def select(self, ctx, budget: float, seed: int) -> torch.Tensor:
        """Roll the policy out as it was trained: sampling (Gumbel-top-k), not greedy argmax, which
        would collapse the picks onto the few highest-scoring spots of one region."""
        env, state, _ = _new_env(ctx, budget, seed)
        step = 0
        while not env.done:
            mask = torch.as_tensor(env.action_mask()).to(torch.int8)
            scores = self.policy(ctx.features, state.features())
            picks = _envs.gumbel_topk(scores, mask, env.picks_this_step, seed * 1_000_003 + step).tolist()
            env.step(picks)
            state.update(picks)
            step += 1
        return torch.as_tensor(sorted(env.history), dtype=torch.int64)


def _new_env(ctx, budget: float, seed: int):
    total = max(1, int(budget * ctx.n))
    k = max(1, total // STEPS_PER_EPISODE)
    env = _envs.SpotSamplingEnv(ctx.task, seed=seed, budget_ratio=budget, mode="marginal", picks_per_step=k)
    env.reset(seed)
    return env, _State(ctx), k

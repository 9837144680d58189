"""The learned sampler's starting point and the aggregation scripts of the documented studies."""
from __future__ import annotations

import importlib.util
import statistics
from pathlib import Path

import pytest
import torch

from stx.pipeline import sampling
from stx.pipeline.config import PipelineConfig
from stx.pipeline.scrl import LearnedSampler, _Policy

REPO = Path(__file__).resolve().parents[2]


def _script(name: str):
    spec = importlib.util.spec_from_file_location(name, REPO / "scripts" / f"{name}.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.fixture(scope="module")
def ctx():
    g = torch.Generator().manual_seed(0)
    n = 240
    coords = torch.rand(n, 2, generator=g, dtype=torch.float64) * 1000
    domain = (coords[:, 0] > 500).long()
    targets = torch.rand(n, 12, generator=g) + 2.0 * domain[:, None] * (torch.arange(12) < 6)
    patches = (torch.rand(n, 3, 8, 8, generator=g) * 120 + 60 * domain[:, None, None, None]).to(torch.uint8)
    pool = {"targets": targets, "patches": patches, "coords": coords,
            "section_id": (torch.arange(n) >= n // 2).long(), "genes": [f"g{i}" for i in range(12)]}
    return sampling.SamplingContext.build(pool, [], {}, PipelineConfig())


def test_untrained_policy_is_the_uniform_sampler(ctx):
    # Equal scores for every spot: Gumbel-top-k on them is uniform sampling without replacement,
    # i.e. the untrained learned sampler is the random baseline, not an arbitrary feature bias.
    torch.manual_seed(3)
    policy = _Policy(ctx.features.shape[1])
    state = torch.rand(ctx.n, 2)
    scores = policy(ctx.features, state)
    assert torch.equal(scores, torch.zeros(ctx.n))


def test_training_moves_the_policy_and_respects_the_budget(ctx):
    sampler = LearnedSampler.train(ctx, budget=0.2, episodes=4, seed=1)
    assert len(sampler.rewards) == 4
    scores = sampler.policy(ctx.features, torch.zeros(ctx.n, 2))
    assert float(scores.detach().std()) > 0  # the rewards moved it away from uniform
    picked = sampler.select(ctx, 0.2, seed=5)
    assert picked.numel() == int(0.2 * ctx.n) and picked.unique().numel() == picked.numel()


def test_loso_summary_is_mean_and_sd_over_folds():
    loso = _script("her2st_loso")
    rows = []
    for fold, (pcc, n_genes_ok) in {"A": (0.1, 10), "B": (0.2, 30), "C": (0.3, 50)}.items():
        for seed, jitter in ((0, -0.01), (1, 0.01)):  # a fold's value is the mean over its seeds
            m = {"pcc_m": pcc + jitter, "pcc_s": pcc, "pcc_f": pcc / 2, "genes_pcc_ge_0_3": n_genes_ok,
                 "mse": 1 - pcc, "mae": 0.5, "n_spots": 100, "n_genes": 785,
                 "mean_predictor": {"pcc_m": 0.0, "pcc_s": 0.0, "pcc_f": 0.0, "genes_pcc_ge_0_3": 0,
                                    "mse": 1.0, "mae": 0.6}}
            rows.append({"gene_set": "hist2st", "model": "scr2net", "held_out": fold, "seed": seed, "metrics": m})
    s = loso.summarise(rows)["hist2st/scr2net"]
    assert s["folds"]["B"]["pcc_m"] == pytest.approx(0.2)
    assert s["mean"]["pcc_m"] == pytest.approx(0.2)
    assert s["sd"]["pcc_m"] == pytest.approx(statistics.stdev([0.1, 0.2, 0.3]))
    assert s["mean"]["genes_pcc_ge_0_3"] == pytest.approx(30)
    assert s["mean_predictor_mean"]["mse"] == pytest.approx(1.0)
    md = loso.markdown({"hist2st/scr2net": s}, "header")
    assert "| B (100) | 0.200 |" in md and "**0.200 ± 0.100**" in md


def test_demo_seeds_pairs_learned_and_random_by_seed():
    seeds_mod = _script("demo_seeds")

    def demo(offset):
        runs = [{"sampler": s, "model": "scr2net", "budget": b, "metrics": {"pcc_m": v + offset}}
                for s, v in (("scrl", 0.6), ("random", 0.65)) for b in (0.1, 0.25)]
        return {"runs": runs, "summary": {"mean_predictor": {"pcc_m": 0.0}}}

    result, md = seeds_mod.aggregate({0: demo(0.0), 1: demo(0.1)})
    assert result["pcc_m"]["scrl/scr2net@0.1"] == pytest.approx([0.6, 0.7])
    assert result["scrl_minus_random"]["0.25"] == pytest.approx([-0.05, -0.05])
    assert "| random / scr2net | 0.700 ± 0.071 | 0.700 ± 0.071 |" in md

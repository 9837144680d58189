"""The studies' intervals (stx.pipeline.stats) against SciPy's t-interval and paired t-test."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from stx.pipeline.stats import mean_interval, paired_differences


def test_mean_interval_is_scipys_t_interval():
    x = [0.61, 0.64, 0.59, 0.70, 0.66]
    mean, half = mean_interval(x)
    low, high = stats.t.interval(0.95, len(x) - 1, loc=np.mean(x), scale=stats.sem(x))
    assert mean == pytest.approx(np.mean(x)) and half == pytest.approx((high - low) / 2)
    one, nan = mean_interval([0.5])
    assert one == 0.5 and math.isnan(nan)
    assert all(math.isnan(v) for v in mean_interval([]))


def test_paired_differences_match_a_paired_t_test():
    rng = np.random.default_rng(0)
    base = rng.normal(0.6, 0.05, 6)
    gain = base + rng.normal(0.03, 0.01, 6)
    runs = [{"sampler": s, "budget": 0.1, "model": "scr2net", "seed": i, "metrics": {"pcc_m": float(v)}}
            for s, values in (("random", base), ("scrl", gain)) for i, v in enumerate(values)]
    # an unpaired run (no random partner for seed 99) and another budget are kept apart
    runs.append({"sampler": "scrl", "budget": 0.1, "model": "scr2net", "seed": 99, "metrics": {"pcc_m": 1.0}})
    runs.append({"sampler": "scrl", "budget": 0.5, "model": "scr2net", "seed": 0, "metrics": {"pcc_m": 0.9}})
    runs.append({"sampler": "random", "budget": 0.5, "model": "scr2net", "seed": 0, "metrics": {"pcc_m": 0.7}})
    rows = paired_differences(runs, "sampler", "random", ("budget", "model"))
    assert [(r["sampler"], r["budget"], r["n"]) for r in rows] == [("scrl", 0.1, 6), ("scrl", 0.5, 1)]
    ci = stats.ttest_rel(gain, base).confidence_interval(0.95)
    assert rows[0]["mean"] == pytest.approx(np.mean(gain - base))
    assert rows[0]["ci95"] == pytest.approx((ci.high - ci.low) / 2)
    assert rows[1]["mean"] == pytest.approx(0.2) and math.isnan(rows[1]["ci95"])
    assert rows[0]["reference"] == "random"

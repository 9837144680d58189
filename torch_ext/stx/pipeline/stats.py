"""Intervals for the studies' reports: the mean with its 95 % t-interval over seeds or folds, and
paired differences (the same seed and setting, one factor changed)."""
from __future__ import annotations

from typing import Iterable, Sequence

import numpy as np


def mean_interval(values) -> tuple:
    """Mean and the half-width of its 95 % t-interval (NaN with fewer than two values)."""
    x = np.asarray(list(values), dtype=np.float64)
    if x.size < 2:
        return float(x.mean()) if x.size else float("nan"), float("nan")
    from scipy import stats

    return float(x.mean()), float(stats.t.ppf(0.975, x.size - 1) * x.std(ddof=1) / np.sqrt(x.size))


def paired_differences(results: Iterable[dict], vary: str, reference: str, keep: Sequence[str],
                       metric: str = "pcc_m") -> list[dict]:
    """metric(vary = x) - metric(vary = reference) over runs that agree in ``keep`` and ``seed``, per
    (x, keep values): n pairs, the mean difference and its 95 % t-interval half-width. Runs without
    a partner are left out."""
    index = {}
    for r in results:
        index[(r[vary], *(r[k] for k in keep), r["seed"])] = r["metrics"][metric]
    groups: dict = {}
    for (x, *rest), value in index.items():
        partner = index.get((reference, *rest))
        if x != reference and partner is not None:
            groups.setdefault((x, *rest[:-1]), []).append(value - partner)
    rows = []
    for (x, *kept), diffs in sorted(groups.items()):
        mean, half = mean_interval(diffs)
        rows.append({vary: x, **dict(zip(keep, kept)), "reference": reference, "n": len(diffs), "mean": mean,
                     "ci95": half})
    return rows

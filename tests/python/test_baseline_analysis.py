"""The baseline analysis (stx.pipeline.baseline_analysis) against direct NumPy/SciPy computations."""
from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from stx.pipeline.baseline_analysis import accuracy_vs_structure, gene_sets, scatter_plots, set_metrics


def test_gene_sets_heg_hvg_and_markers():
    rng = np.random.default_rng(0)
    x = rng.gamma(2.0, 1.0, size=(40, 120)) * rng.uniform(0.1, 3, size=120)
    genes = [f"g{i:03d}" for i in range(120)]
    sets = gene_sets(x, genes, top=50, markers=["g007", "nope", "g003"])
    assert sets["HEG"] == sorted(np.argsort(-x.mean(0), kind="stable")[:50].tolist())
    assert sets["HVG"] == sorted(np.argsort(-x.var(0), kind="stable")[:50].tolist())
    assert sets["markers"] == [7, 3]
    with pytest.raises(ValueError, match="none of the marker genes"):
        gene_sets(x, genes, markers=["nope"])


def test_set_metrics():
    pcc = np.array([0.5, 0.1, np.nan, 0.3, -0.2])
    got = set_metrics(pcc, {"a": [0, 1, 2], "b": [3, 4]})
    assert got["a"] == {"mean_pcc": pytest.approx(0.2), "genes_pcc_ge_0_3": 1, "n_genes": 3}
    assert got["b"] == {"mean_pcc": pytest.approx(0.05), "genes_pcc_ge_0_3": 1, "n_genes": 2}


def test_accuracy_follows_the_stronger_correlate(tmp_path):
    rng = np.random.default_rng(1)
    moran = rng.uniform(0, 1, 60)
    abundance = rng.uniform(0, 5, 60)
    pcc = moran + rng.normal(0, 0.1, 60)
    pcc[5] = np.nan
    got = accuracy_vs_structure(pcc, moran, abundance)
    keep = np.isfinite(pcc)
    rho, p = stats.spearmanr(pcc[keep], moran[keep])
    assert got["n_genes"] == 59
    assert got["morans_i"] == {"spearman_rho": pytest.approx(rho), "p_value": pytest.approx(p)}
    assert got["follows"] == "spatial structure"
    assert accuracy_vs_structure(abundance + rng.normal(0, 0.1, 60), moran, abundance)["follows"] == "abundance"
    constant = accuracy_vs_structure(np.zeros(60), moran, abundance)  # a model that predicts one profile
    assert np.isnan(constant["morans_i"]["spearman_rho"]) and constant["follows"].startswith("undetermined")
    scatter_plots(pcc, moran, abundance, got, tmp_path / "pcc.png")
    assert (tmp_path / "pcc.png").stat().st_size > 0

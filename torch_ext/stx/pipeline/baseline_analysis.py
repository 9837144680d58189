"""The single-patch baseline's analysis (issue #18): gene sets, per-set accuracy, and whether per-gene
accuracy follows spatial structure (Moran's I of the measured map) more than abundance.

The per-gene PCC and Moran's I come from the training layer's metrics (``stx._C.train.regression_metrics``:
``pcc_per_gene`` and the measured maps' Moran's I); this module only groups and correlates them.
"""
from __future__ import annotations

from typing import Dict, Optional, Sequence

import numpy as np

PCC_THRESHOLD = 0.3


def gene_sets(log_expression, genes: Sequence[str], top: int = 50,
              markers: Optional[Sequence[str]] = None) -> Dict[str, list]:
    """Gene sets as indices into ``genes``: ``HEG`` the ``top`` genes by mean log1p expression, ``HVG``
    the ``top`` genes by its variance (ties by name), and ``markers`` (the given names that are in
    ``genes``, in their order) when a marker list is given. ``log_expression`` is [N, G]."""
    x = np.asarray(log_expression, dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != len(genes):
        raise ValueError(f"gene_sets: log_expression must be [N, {len(genes)}], got {x.shape}")
    names = np.asarray(genes)

    def top_by(score: np.ndarray) -> list:
        order = np.lexsort((names, -score))  # descending score, then by name
        return sorted(order[: min(top, len(genes))].tolist())

    sets = {"HEG": top_by(x.mean(0)), "HVG": top_by(x.var(0))}
    if markers is not None:
        where = {g: i for i, g in enumerate(genes)}
        found = [where[m] for m in markers if m in where]
        if not found:
            raise ValueError("gene_sets: none of the marker genes is in the panel")
        sets["markers"] = found
    return sets


def set_metrics(pcc_per_gene, sets: Dict[str, list]) -> Dict[str, dict]:
    """Per set: mean PCC (genes without a finite PCC count as 0, as in the run metrics), the number
    of genes with PCC >= 0.3, and the set size."""
    pcc = np.nan_to_num(np.asarray(pcc_per_gene, dtype=np.float64), nan=0.0)
    out = {}
    for name, idx in sets.items():
        values = pcc[list(idx)]
        out[name] = {"mean_pcc": float(values.mean()), "genes_pcc_ge_0_3": int((values >= PCC_THRESHOLD).sum()),
                     "n_genes": len(values)}
    return out


def accuracy_vs_structure(pcc_per_gene, morans_i, abundance) -> dict:
    """Spearman rho and its p-value of per-gene PCC against Moran's I of the measured map and against
    mean abundance, over the genes where all three are finite, and which of the two PCC follows more
    (the larger rho; undetermined when either is undefined because an input is constant)."""
    try:
        from scipy import stats  # only the analysis needs SciPy (not a dependency of `import stx`)
    except ImportError as exc:
        raise RuntimeError("the baseline analysis needs SciPy (pip install scipy)") from exc
    pcc, moran, mean = (np.asarray(v, dtype=np.float64) for v in (pcc_per_gene, morans_i, abundance))
    if not pcc.shape == moran.shape == mean.shape:
        raise ValueError("accuracy_vs_structure: pcc, morans_i and abundance need one value per gene")
    keep = np.isfinite(pcc) & np.isfinite(moran) & np.isfinite(mean)
    if keep.sum() < 3:
        raise ValueError("accuracy_vs_structure: need at least 3 genes with finite values")
    out = {"n_genes": int(keep.sum())}
    for name, other in (("morans_i", moran), ("abundance", mean)):
        if np.ptp(pcc[keep]) == 0 or np.ptp(other[keep]) == 0:  # e.g. a model that predicts one profile
            rho = p = float("nan")
        else:
            rho, p = stats.spearmanr(pcc[keep], other[keep])
        out[name] = {"spearman_rho": float(rho), "p_value": float(p)}
    rho_moran, rho_abundance = out["morans_i"]["spearman_rho"], out["abundance"]["spearman_rho"]
    if not (np.isfinite(rho_moran) and np.isfinite(rho_abundance)):
        out["follows"] = "undetermined (constant PCC, Moran's I or abundance)"
    else:
        out["follows"] = "spatial structure" if rho_moran > rho_abundance else "abundance"
    return out


def scatter_plots(pcc_per_gene, morans_i, abundance, analysis: dict, path) -> None:
    """PCC against Moran's I and against mean abundance, side by side, with rho and p in the titles."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 4), sharey=True)
    for ax, (key, values, label) in zip(axes, (("morans_i", morans_i, "Moran's I (measured)"),
                                               ("abundance", abundance, "mean log1p expression"))):
        ax.scatter(values, pcc_per_gene, s=8, alpha=0.7)
        r = analysis[key]
        ax.set_title(f"rho = {r['spearman_rho']:.2f}, p = {r['p_value']:.2g}")
        ax.set_xlabel(label)
    axes[0].set_ylabel("per-gene PCC")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)

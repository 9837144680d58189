"""report.md + PNG plots of a pipeline run."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402


def plot_budget_curves(results: list[dict], path: Path, metric: str = "pcc_m") -> None:
    """PCC@M (mean ± sd over seeds) against budget, one line per sampler and model."""
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = sorted({(r["sampler"], r["model"]) for r in results})
    for sampler, model in keys:
        rows = [r for r in results if r["sampler"] == sampler and r["model"] == model]
        budgets = sorted({r["budget"] for r in rows})
        means = [np.mean([r["metrics"][metric] for r in rows if r["budget"] == b]) for b in budgets]
        sds = [np.std([r["metrics"][metric] for r in rows if r["budget"] == b]) for b in budgets]
        style = "-" if model == "scr2net" else "--"
        ax.errorbar([100 * b for b in budgets], means, yerr=sds, fmt=style + "o", capsize=3, label=f"{sampler} / {model}")
    ax.set_xlabel("budget (% of training spots sequenced)")
    ax.set_ylabel(metric.upper().replace("_", "@"))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_gene_maps(coords: np.ndarray, measured: np.ndarray, predicted: np.ndarray, genes: list[str], path: Path) -> None:
    """Measured vs predicted spot maps for a few genes (rows: genes; columns: measured, predicted)."""
    n = len(genes)
    fig, axes = plt.subplots(n, 2, figsize=(6, 2.8 * n), squeeze=False)
    for row, gene in enumerate(genes):
        lo, hi = np.percentile(measured[:, row], [1, 99])
        for col, (values, title) in enumerate(((measured[:, row], "measured"), (predicted[:, row], "predicted"))):
            ax = axes[row, col]
            ax.scatter(coords[:, 0], coords[:, 1], c=values, s=8, cmap="viridis", vmin=lo, vmax=hi)
            ax.set_title(f"{gene}: {title}", fontsize=9)
            ax.invert_yaxis()
            ax.set_aspect("equal")
            ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_dense_map(dense: np.ndarray, gene: str, path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    im = ax.imshow(dense, cmap="magma")
    ax.set_title(f"{gene}: predicted spots painted with spot_splat", fontsize=9)
    ax.axis("off")
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_selection(image: np.ndarray | None, coords: np.ndarray, selected: np.ndarray, scale: float, title: str,
                   path: Path) -> None:
    fig, ax = plt.subplots(figsize=(5, 5))
    if image is not None:
        ax.imshow(image)
    xy = coords * scale
    ax.scatter(xy[:, 0], xy[:, 1], s=6, facecolors="none", edgecolors="0.5", linewidths=0.4)
    ax.scatter(xy[selected, 0], xy[selected, 1], s=10, c="red")
    if image is None:
        ax.invert_yaxis()
        ax.set_aspect("equal")
    ax.set_title(title, fontsize=9)
    ax.axis("off")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def write_report(path: Path, summary: dict, results: list[dict], figures: dict[str, str]) -> None:
    lines = [
        "# stx pipeline report",
        "",
        f"Data: {summary['data']}  ",
        f"Training sections: {', '.join(summary['train_sections'])}; held-out: {', '.join(summary['test_sections'])}  ",
        f"Genes: {summary['n_genes']} ({summary['gene_selection']}); training pool: {summary['n_train_spots']} spots; "
        f"held-out spots: {summary['n_test_spots']}  ",
        f"Seeds: {summary['seeds']}; wall time: {summary['seconds']:.0f} s",
        "",
        "All metrics are computed in log1p space on the held-out sections (see docs/pipeline.md).",
        "",
        f"Mean-predictor baseline: PCC@M {summary['mean_predictor']['pcc_m']:.3f}, MSE {summary['mean_predictor']['mse']:.4f}.",
        "",
        "| sampler | model | budget | spots | MSE | MAE | PCC@F | PCC@S | PCC@M | genes PCC>=0.3 | Moran's I pred (true) |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    groups: dict[tuple, list[dict]] = {}
    for r in results:
        groups.setdefault((r["sampler"], r["model"], r["budget"]), []).append(r)
    for (sampler, model, budget), rows in sorted(groups.items()):
        def ms(key):
            vals = [r["metrics"][key] for r in rows if key in r["metrics"]]
            if not vals:
                return "–"
            return f"{np.mean(vals):.3f}" + (f" ± {np.std(vals):.3f}" if len(vals) > 1 else "")
        mi = ms("morans_i_pred_mean") + " (" + ms("morans_i_true_mean") + ")"
        lines.append(
            f"| {sampler} | {model} | {int(round(100 * budget))}% | {rows[0]['n_selected']} | {ms('mse')} | {ms('mae')} | "
            f"{ms('pcc_f')} | {ms('pcc_s')} | {ms('pcc_m')} | {ms('genes_pcc_ge_0_3')} | {mi} |"
        )
    lines += ["", "## Figures", ""]
    for title, name in figures.items():
        lines += [f"### {title}", "", f"![{title}]({name})", ""]
    path.write_text("\n".join(lines) + "\n")

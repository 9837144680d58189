"""report.md + PNG plots of a pipeline run."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .stats import mean_interval, paired_differences  # noqa: E402

# One sentence per figure of the report: what it shows and how to read it.
CAPTIONS = {
    "budget_vs_pcc.png": "Held-out PCC@M against the share of training spots sequenced, one line per sampler "
                         "(solid: SCR2Net with retrieval, dashed: the regression-only ablation); bars are 95 % "
                         "t-intervals over seeds, absent with one seed.",
    "gene_maps.png": "The measured (top) and predicted (bottom) expression of the three best-predicted genes "
                     "over the first held-out section, one dot per spot.",
    "dense_map.png": "The best gene's predictions painted back into a map with spot_splat, to check that "
                     "predicted structure sits where the tissue is.",
    "selection.png": "The spots the first sampler chose at the largest budget over the first training "
                     "section's image: how it spreads the budget over the tissue.",
}


def plot_budget_curves(results: list[dict], path: Path, metric: str = "pcc_m") -> None:
    """PCC@M (mean ± 95 % t-interval over seeds) against budget, one line per sampler and model."""
    fig, ax = plt.subplots(figsize=(6, 4))
    keys = sorted({(r["sampler"], r["model"]) for r in results})
    for sampler, model in keys:
        rows = [r for r in results if r["sampler"] == sampler and r["model"] == model]
        budgets = sorted({r["budget"] for r in rows})
        stats = [mean_interval([r["metrics"][metric] for r in rows if r["budget"] == b]) for b in budgets]
        means = [m for m, _ in stats]
        bars = [0.0 if h != h else h for _, h in stats]  # no bar with one seed
        style = "-" if model == "scr2net" else "--"
        ax.errorbar([100 * b for b in budgets], means, yerr=bars, fmt=style + "o", capsize=3, label=f"{sampler} / {model}")
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
            return interval_text(*mean_interval(vals)) if vals else "–"
        mi = ms("morans_i_pred_mean") + " (" + ms("morans_i_true_mean") + ")"
        lines.append(
            f"| {sampler} | {model} | {int(round(100 * budget))}% | {rows[0]['n_selected']} | {ms('mse')} | {ms('mae')} | "
            f"{ms('pcc_f')} | {ms('pcc_s')} | {ms('pcc_m')} | {ms('genes_pcc_ge_0_3')} | {mi} |"
        )
    lines += ["", "Each cell: mean ± 95 % t-interval over seeds (the mean alone with one seed).", ""]
    lines += paired_sections(results)
    lines += ["## Figures", ""]
    for title, name in figures.items():
        lines += [f"### {title}", "", CAPTIONS.get(name, ""), "", f"![{title}]({name})", ""]
    path.write_text("\n".join(lines) + "\n")


def interval_text(mean: float, half: float, digits: int = 3) -> str:
    return f"{mean:.{digits}f}" if half != half else f"{mean:.{digits}f} ± {half:.{digits}f}"


def paired_comparisons(results: list[dict]) -> dict:
    """The report's paired comparisons of PCC@M: every sampler against random (same seed, budget and
    model), and SCR2Net against its regression-only ablation (same seed, sampler and budget)."""
    return {"samplers_vs_random": paired_differences(results, "sampler", "random", ("budget", "model")),
            "retrieval_vs_regression": paired_differences(results, "model", "regression", ("sampler", "budget"))}


def paired_sections(results: list[dict]) -> list[str]:
    paired = paired_comparisons(results)
    lines = ["## Paired comparisons", "",
             "PCC@M differences between runs that share the seed (hence the training sections, spot labels and "
             "initial weights) and differ in one factor: mean ± 95 % t-interval over seeds. An interval wholly "
             "above zero means the first beats the second in this study; one that contains zero shows no "
             "difference the seeds can resolve.", ""]
    if paired["samplers_vs_random"]:
        lines += ["| sampler − random | model | budget | seeds | ΔPCC@M |", "|---|---|---|---|---|"]
        lines += [f"| {r['sampler']} | {r['model']} | {int(round(100 * r['budget']))}% | {r['n']} | "
                  f"{interval_text(r['mean'], r['ci95'])} |" for r in paired["samplers_vs_random"]]
        lines.append("")
    if paired["retrieval_vs_regression"]:
        lines += ["| SCR2Net − regression-only | budget | seeds | ΔPCC@M |", "|---|---|---|---|"]
        lines += [f"| {r['sampler']} | {int(round(100 * r['budget']))}% | {r['n']} | "
                  f"{interval_text(r['mean'], r['ci95'])} |" for r in paired["retrieval_vs_regression"]]
        lines.append("")
    if len(lines) == 4:
        lines += ["(No pairs: the run has neither a random sampler nor the regression-only ablation.)", ""]
    return lines

"""``python -m stx pixnet``: the PixNet study (docs/pixnet.md). Each seed is one run of the C++
command (``stx::train::run_pixnet``, the same one ``stx-train pixnet`` runs) in its own folder; this
module only repeats it over seeds, summarises the runs (mean and 95 % t-interval per scale, dense
minus patch paired by seed) and draws the report's figures."""
from __future__ import annotations

import argparse
import csv
import json
from pathlib import Path
from typing import Callable

import numpy as np

from stx._C import train as _train

from .outputs import prepare_out_dir, write_json
from .stats import mean_interval

METRICS = ("pcc_m", "pcc_s", "pcc_f", "mse")


def _row_label(item: dict) -> str:
    return f"{item['set']} ({item['shape']}, {item['size_um']:g} um)"


def summarise(runs: list[dict]) -> dict:
    """Per (section, region set): each model's metrics as mean and 95 % t-interval over the runs, and
    dense minus patch paired by run."""
    summary: dict = {}
    for key in runs[0]["scales"]:
        rows = [r["scales"][key] for r in runs]
        entry = {"set": rows[0]["set"], "section": rows[0]["section"], "shape": rows[0]["shape"],
                 "size_um": rows[0]["size_um"], "n_regions": rows[0]["n_regions"], "seeds": len(rows)}
        for metric in METRICS:
            dense = [r["dense"][metric] for r in rows]
            patch = [r["patch"][metric] for r in rows]
            entry[metric] = {"dense": mean_interval(dense), "patch": mean_interval(patch),
                             "dense_minus_patch": mean_interval(np.subtract(dense, patch)),
                             "dense_per_seed": dense, "patch_per_seed": patch}
        summary[key] = entry
    return summary


def _cell(mi) -> str:
    mean, half = mi
    return f"{mean:.3f}" if not np.isfinite(half) else f"{mean:.3f} ± {half:.3f}"


def _report(out: Path, summary: dict, runs: list[dict], figures: dict[str, str]) -> str:
    first = runs[0]
    lines = ["# PixNet: dense model vs spot-patch model", "",
             f"Trained at {first['train_scales']} on {first['train_sections']}; held out {first['sections']}; "
             f"{len(first['genes'])} genes; {first['um_per_px']:g} um/px; seeds "
             f"{[r['seed'] for r in runs]}. Values are log1p counts; PCC per gene over the held-out regions, "
             "mean ± 95 % t-interval over seeds; differences paired by seed.", "",
             "| section | regions | PCC@M dense | PCC@M patch | dense − patch | PCC@S dense | PCC@S patch | "
             "MSE dense | MSE patch |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for entry in summary.values():
        m, s, e = entry["pcc_m"], entry["pcc_s"], entry["mse"]
        lines.append(f"| {entry['section']} | {_row_label(entry)} | {_cell(m['dense'])} | {_cell(m['patch'])} | "
                     f"{_cell(m['dense_minus_patch'])} | {_cell(s['dense'])} | {_cell(s['patch'])} | "
                     f"{_cell(e['dense'])} | {_cell(e['patch'])} |")
    for caption, path in figures.items():
        lines += ["", f"![{caption}]({path})", "", f"*{caption}*"]
    return "\n".join(lines) + "\n"


def _figures(out: Path, summary: dict, first_run: Path) -> dict[str, str]:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figures: dict[str, str] = {}
    keys = list(summary)
    fig, ax = plt.subplots(figsize=(max(6, 1.2 * len(keys)), 3.5))
    x = np.arange(len(keys))
    for i, model in enumerate(("dense", "patch")):
        means = [summary[k]["pcc_m"][model][0] for k in keys]
        halves = [np.nan_to_num(summary[k]["pcc_m"][model][1]) for k in keys]
        ax.bar(x + (i - 0.5) * 0.38, means, 0.38, yerr=halves, capsize=3, label=model)
    ax.set_xticks(x, [summary[k]["set"] for k in keys], rotation=30, ha="right")
    ax.set_ylabel("PCC@M (held out)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(out / "pixnet_scales.png", dpi=120)
    plt.close(fig)
    figures["PCC@M per region set, dense vs spot-patch model (bars: mean, whiskers: 95 % t-interval over seeds)"] = \
        "pixnet_scales.png"

    maps = sorted(first_run.glob("map_*.csv"))
    if maps:
        with open(maps[0]) as fh:
            rows = list(csv.DictReader(fh))
        gene = rows[0]["gene"]
        pick = [r for r in rows if r["gene"] == gene]
        xs = np.array([float(r["x_um"]) for r in pick])
        ys = np.array([float(r["y_um"]) for r in pick])
        fig, axes = plt.subplots(1, 3, figsize=(12, 4))
        values = {k: np.array([float(r[k]) for r in pick]) for k in ("truth", "dense", "patch")}
        vmax = max(np.percentile(v, 99) for v in values.values())
        for ax, (name, v) in zip(axes, values.items()):
            ax.scatter(xs, ys, c=v, s=2, marker="s", cmap="viridis", vmin=0, vmax=vmax)
            ax.set_title(f"{gene}: {name}")
            ax.invert_yaxis()
            ax.set_aspect("equal")
            ax.set_axis_off()
        fig.tight_layout()
        fig.savefig(out / "pixnet_map.png", dpi=120)
        plt.close(fig)
        figures[f"{gene} (highest mean) at 8 um bins of the held-out section, log1p counts: measured, dense model, "
                "spot-patch model (first seed)"] = "pixnet_map.png"

    metrics = json.loads((first_run / "metrics.json").read_text())
    eight = [v for v in metrics["scales"].values() if v["set"] == "square_008um"]
    if eight:
        genes = metrics["genes"]
        dense = np.array(eight[0]["dense"]["pcc_per_gene"])
        patch = np.array(eight[0]["patch"]["pcc_per_gene"])
        top = np.argsort(-dense)[:10]
        fig, ax = plt.subplots(figsize=(7, 3.5))
        ax.bar(np.arange(len(top)) - 0.2, dense[top], 0.4, label="dense")
        ax.bar(np.arange(len(top)) + 0.2, patch[top], 0.4, label="patch")
        ax.set_xticks(np.arange(len(top)), [genes[i] for i in top], rotation=45, ha="right")
        ax.set_ylabel("PCC at 8 um bins")
        ax.legend()
        fig.tight_layout()
        fig.savefig(out / "pixnet_top_genes.png", dpi=120)
        plt.close(fig)
        figures["The 10 genes the dense model predicts best at 8 um bins, with the spot-patch model's PCC "
                "(first seed)"] = "pixnet_top_genes.png"
    return figures


def run_pixnet(args: argparse.Namespace, config: Callable[[dict], object], log: Callable[[str], None]) -> int:
    cfg = config({})
    seeds = int(cfg.to_dict()["seeds"])
    first_seed = int(cfg.to_dict()["seed"])
    out = prepare_out_dir(args.out, args.force)
    if (out / "summary.json").exists() and not args.force:
        raise ValueError(f"--out {out} already holds results (summary.json); choose another folder or pass --force")
    runs, folders = [], []
    for seed in range(first_seed, first_seed + seeds):
        folder = out if seeds == 1 else out / f"seed_{seed}"
        run_cfg = config({"seed": seed})
        log(f"seed {seed} -> {folder}")
        _train.run_pixnet(run_cfg.native, args.data or "", args.test_sections or "", str(folder), force=args.force,
                          log=log)
        runs.append(json.loads((folder / "metrics.json").read_text()))
        folders.append(folder)
    summary = summarise(runs)
    figures = _figures(out, summary, folders[0])
    write_json(out / "summary.json", {"seeds": [r["seed"] for r in runs], "scales": summary})
    (out / "report.md").write_text(_report(out, summary, runs, figures))
    log(f"report -> {out / 'report.md'}")
    return 0

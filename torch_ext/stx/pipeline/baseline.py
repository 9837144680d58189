"""``python -m stx baseline``: the single-patch baseline study (issue #18, docs/baseline.md).

On a fixed split (held-out sections: ``--test-sections``, default the last), each backbone of
``--backbones`` is trained with the ``patch_regressor`` recipe (same seed and config), evaluated on
the held-out spots, and reported with its parameter counts, its accuracy per gene set (HEG, HVG,
markers) and the Spearman correlation of per-gene PCC with Moran's I and with abundance.
Writes baseline.json, report.md and one scatter plot per backbone into --out.
"""
from __future__ import annotations

import time
from pathlib import Path

import torch

import stx
from stx._C import train as _train
from stx.modules import PatchRegressor

from . import baseline_analysis as analysis
from . import data as pdata
from . import evaluate
from .outputs import prepare_out_dir, write_json
from .train import predict, train


def parameter_counts(cfg, backbone: str, num_genes: int) -> dict:
    net = PatchRegressor(num_genes=num_genes, backbone=backbone, small_cnn_width=cfg.width, hidden_dim=cfg.hidden_dim,
                         dropout=cfg.dropout)
    return {"backbone": net.backbone_parameters, "head": net.head_parameters}


def run_baseline(args, config, log) -> int:
    """``config(extra)`` resolves the run's config with extra keys; ``log`` prints progress."""
    backbones = [b for b in args.backbones.split(",") if b]
    cfg = config({"model": "patch_regressor"})
    out = prepare_out_dir(args.out, args.force)
    sections, info = pdata.load_sections(args.data, cfg, out)
    train_secs, test_secs = _train.split_sections(sections, args.test_sections or "")
    genes, rule = pdata.choose_genes(train_secs, cfg)
    pool, test = pdata.pool(train_secs, genes), pdata.pool(test_secs, genes)
    markers = _train.read_gene_list(args.markers) if args.markers else None
    sets = analysis.gene_sets(pool["targets"].numpy(), genes, top=args.set_size, markers=markers)
    abundance = pool["targets"].double().mean(0).numpy()
    log(f"data: {info['kind']}; train {pool['names']} ({len(pool['targets'])} spots), held out {test['names']} "
        f"({len(test['targets'])} spots); {len(genes)} genes ({rule})")

    rows = []
    for backbone in backbones:
        run_cfg = config({"model": "patch_regressor", "backbone": backbone})
        t0 = time.time()
        labels = torch.zeros(len(pool["targets"]), dtype=torch.long)  # the baseline uses no spot labels
        result = train(pool["patches"], pool["targets"], labels, run_cfg, seed=run_cfg.seed, retrieval=False)
        seconds = time.time() - t0
        pred = predict(result.model, test["patches"], run_cfg.device)
        metrics = evaluate.regression_metrics(pred, test["targets"], test["coords"], genes)
        pcc, moran = metrics["pcc_per_gene"], metrics["morans_i_true"]
        structure = analysis.accuracy_vs_structure(pcc, moran, abundance)
        plot = f"pcc_vs_structure_{backbone}.png"
        analysis.scatter_plots(pcc, moran, abundance, structure, out / plot)
        rows.append({"backbone": backbone, "parameters": parameter_counts(run_cfg, backbone, len(genes)),
                     "train_seconds": seconds, "pcc_m": metrics["pcc_m"],
                     "genes_pcc_ge_0_3": metrics["genes_pcc_ge_0_3"], "sets": analysis.set_metrics(pcc, sets),
                     "pcc_vs_structure": structure, "plot": plot})
        log(f"{backbone}: mean PCC {metrics['pcc_m']:.3f}, {seconds:.0f} s")

    write_json(out / "baseline.json", {"stx_version": stx.__version__, "data": info, "genes": genes,
                                       "gene_sets": {k: [genes[i] for i in v] for k, v in sets.items()},
                                       "train_sections": pool["names"], "test_sections": test["names"],
                                       "config": cfg.to_dict(), "results": rows})
    (out / "report.md").write_text(report(rows, sets, pool["names"], test["names"]))
    log(f"wrote {out / 'report.md'}")
    return 0


def report(rows: list[dict], sets: dict, train_names, test_names) -> str:
    set_names = list(sets)
    head = ["backbone", "backbone params", "head params", "train s"]
    head += [f"{s} mean PCC" for s in set_names] + [f"{s} genes PCC>=0.3" for s in set_names]
    head += ["rho(PCC, Moran's I)", "p", "rho(PCC, abundance)", "p", "follows"]
    lines = ["# Single-patch baseline", "", f"Trained on {', '.join(train_names)}; held out {', '.join(test_names)}.",
             "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s, v = r["sets"], r["pcc_vs_structure"]
        cells = [r["backbone"], f"{r['parameters']['backbone']:,}", f"{r['parameters']['head']:,}",
                 f"{r['train_seconds']:.0f}"]
        cells += [f"{s[n]['mean_pcc']:.3f}" for n in set_names] + [f"{s[n]['genes_pcc_ge_0_3']}/{s[n]['n_genes']}"
                                                                  for n in set_names]
        cells += [f"{v['morans_i']['spearman_rho']:.2f}", f"{v['morans_i']['p_value']:.2g}",
                  f"{v['abundance']['spearman_rho']:.2f}", f"{v['abundance']['p_value']:.2g}", v["follows"]]
        lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"![{r['backbone']}]({r['plot']})" for r in rows]
    return "\n".join(lines) + "\n"

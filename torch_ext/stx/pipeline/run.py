"""Orchestration of the main job and its sub-commands (``python -m stx ...``)."""
from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch

import stx

from . import data as pdata
from . import evaluate, report, sampling
from .config import PipelineConfig, load_config
from .outputs import load_checkpoint, prepare_out_dir, save_checkpoint, write_json
from .train import make_model, predict, train_scr2net

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None


def _config(args: argparse.Namespace, extra: dict | None = None) -> PipelineConfig:
    overrides = {"genes_file": args.genes, "top_genes": args.top_genes, "seed": args.seed, "device": args.device}
    overrides.update(extra or {})
    cfg = load_config(args.config, overrides)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("config 'device' is cuda but no CUDA device is available")
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    return cfg


def _split(sections: list[pdata.Section], test_names: str | None) -> tuple[list[pdata.Section], list[pdata.Section]]:
    names = [s.name for s in sections]
    if len(sections) < 2:
        raise ValueError(f"need at least two sections (train and held-out), the data has {names}")
    wanted = test_names.split(",") if test_names else [names[-1]]
    unknown = [n for n in wanted if n not in names]
    if unknown:
        raise ValueError(f"--test-sections {unknown} not in the data's sections {names}")
    test = [s for s in sections if s.name in wanted]
    train = [s for s in sections if s.name not in wanted]
    if not train:
        raise ValueError("every section is held out; keep at least one for training")
    return train, test


def _pick(sections: list[pdata.Section], names: str) -> list[pdata.Section]:
    by_name = {s.name: s for s in sections}
    chosen = []
    for n in names.split(","):
        if n not in by_name:
            raise ValueError(f"--sections: '{n}' is not one of {sorted(by_name)}")
        chosen.append(by_name[n])
    return chosen


def _pool(sections: list[pdata.Section], genes: list[str]) -> dict:
    """Concatenate training sections into one candidate pool."""
    y = torch.cat([pdata.targets(s, genes) for s in sections])
    return {
        "patches": torch.cat([s.patches for s in sections]),
        "targets": y,
        "coords": torch.cat([s.coords for s in sections]),
        "section_id": torch.cat([torch.full((s.counts.shape[0],), i, dtype=torch.int64) for i, s in enumerate(sections)]),
        "names": [s.name for s in sections],
        "genes": genes,
    }


def _log(msg: str) -> None:
    print(f"[stx] {msg}", flush=True)


def run_demo(args: argparse.Namespace) -> int:
    t0 = time.time()
    extra = {}
    if args.quick:
        extra = {"budgets": [0.1, 0.25], "steps": 120, "samplers": ["scrl", "random", "coreset"], "scrl_episodes": 10}
    cfg = _config(args, extra)
    out = prepare_out_dir(args.out, args.force)
    _log(f"stx {stx.__version__}; output folder {out.resolve()}")
    sections, data_info = pdata.load_sections(args.data, cfg, out)
    train_secs, test_secs = _split(sections, args.test_sections)
    genes, gene_rule = pdata.choose_genes(train_secs, cfg)
    pool = _pool(train_secs, genes)
    test = _pool(test_secs, genes)
    _log(f"data: {data_info['kind']}; train {pool['names']} ({len(pool['targets'])} spots), "
         f"held out {test['names']} ({len(test['targets'])} spots); {len(genes)} genes")

    labels = sampling.spot_labels(pool["targets"], seed=cfg.seed)
    sampler_ctx = sampling.SamplingContext.build(pool, test_secs, data_info, cfg)
    baseline = evaluate.mean_predictor_metrics(pool["targets"], test["targets"])
    results: list[dict] = []
    selections: dict[str, list[int]] = {}
    jobs = [(s, b, r) for s in cfg.samplers for b in cfg.budgets for r in range(cfg.seeds)]
    bar = tqdm(jobs, desc="sampler x budget", unit="run") if tqdm else jobs
    for sampler, budget, rep in bar:
        seed = cfg.seed + 1000 * rep
        selected = sampling.select(sampler_ctx, sampler, budget, seed)
        selections[f"{sampler}@{budget:g}#{rep}"] = selected.tolist()
        models = ["scr2net", "regression"] if cfg.ablation else ["scr2net"]
        for model_name in models:
            trained = train_scr2net(pool["patches"][selected], pool["targets"][selected], labels[selected], cfg,
                                    seed=seed, retrieval=model_name == "scr2net")
            pred = predict(trained.model, test["patches"], cfg.device)
            metrics = evaluate.regression_metrics(pred, test["targets"], coords=test["coords"])
            results.append({"sampler": sampler, "budget": budget, "seed": seed, "model": model_name,
                            "n_selected": int(selected.numel()), "metrics": metrics,
                            "final_loss": trained.losses[-1] if trained.losses else None})
            if model_name == "scr2net" and sampler == cfg.samplers[0] and budget == max(cfg.budgets) and rep == 0:
                best_pred, best_selected = pred, selected
                best_pcc = torch.tensor(metrics["pcc_per_gene"])

    figures = _figures(out, results, test, test_secs, genes, best_pred, best_pcc, train_secs, best_selected, cfg)
    summary = {
        "data": f"{data_info['kind']} ({data_info['path']})",
        "train_sections": pool["names"], "test_sections": test["names"],
        "n_genes": len(genes), "gene_selection": gene_rule, "genes": genes,
        "n_train_spots": int(len(pool["targets"])), "n_test_spots": int(len(test["targets"])),
        "seeds": cfg.seeds, "seconds": time.time() - t0,
        "mean_predictor": {k: baseline[k] for k in ("mse", "mae", "pcc_m", "pcc_s", "pcc_f", "genes_pcc_ge_0_3")},
    }
    headline = _headline(results, cfg)
    metrics_json = {**headline, "summary": summary, "config": cfg.to_dict(), "runs": results,
                    "stx_version": stx.__version__}
    write_json(out / "selection.json", selections)
    report.write_report(out / "report.md", summary, results, figures)
    write_json(out / "metrics.json", metrics_json)
    _log(f"SCR2Net PCC@M {headline['pcc_m']:.3f} vs mean predictor {baseline['pcc_m']:.3f} "
         f"({headline['sampler']} sampler, budget {headline['budget']:g})")
    _log(f"report: {(out / 'report.md').resolve()}  ({time.time() - t0:.0f} s)")
    return 0


def _headline(results: list[dict], cfg: PipelineConfig) -> dict:
    """The top-level metrics.json numbers: SCR2Net with the first sampler at the largest budget."""
    rows = [r for r in results if r["model"] == "scr2net" and r["sampler"] == cfg.samplers[0]
            and r["budget"] == max(cfg.budgets)]
    keys = ("mse", "mae", "pcc_f", "pcc_s", "pcc_m", "genes_pcc_ge_0_3", "n_genes", "n_spots")
    out = {k: float(np.mean([r["metrics"][k] for r in rows])) for k in keys}
    out["n_genes"], out["n_spots"] = int(out["n_genes"]), int(out["n_spots"])
    out["sampler"], out["budget"], out["model"] = cfg.samplers[0], max(cfg.budgets), "scr2net"
    return out


def _figures(out, results, test, test_secs, genes, pred, pcc, train_secs, selected, cfg) -> dict[str, str]:
    figures = {}
    report.plot_budget_curves(results, out / "budget_vs_pcc.png")
    figures["Budget vs PCC@M per sampler"] = "budget_vs_pcc.png"
    first = test_secs[0]
    n0 = first.counts.shape[0]
    top = torch.argsort(pcc, descending=True)[:3].tolist()
    report.plot_gene_maps(first.coords.numpy(), test["targets"][:n0, top].numpy(), pred[:n0, top].numpy(),
                          [genes[i] for i in top], out / "gene_maps.png")
    figures["Measured vs predicted maps (best genes, first held-out section)"] = "gene_maps.png"
    # Paint the predicted spots of the best gene into a map with spot_splat (stride-4 frame).
    stride = 4.0
    xy = first.coords / stride
    h, w = int(xy[:, 1].max()) + 20, int(xy[:, 0].max()) + 20
    centers = torch.stack([torch.zeros(n0, dtype=torch.float64), xy[:, 1], xy[:, 0]], 1).float()
    radius = torch.full((n0,), 0.5 * cfg.patch_um / first.mpp / stride * 0.7)
    dense = stx.ops.spot_splat(pred[:n0, top[:1]].float(), centers, radius, 1, h, w)
    report.plot_dense_map(dense[0, 0].numpy(), genes[top[0]], out / "dense_map.png")
    figures["Predicted expression painted with spot_splat"] = "dense_map.png"
    s0 = train_secs[0]
    n_s0 = s0.counts.shape[0]
    sel0 = selected[selected < n_s0].numpy()
    report.plot_selection(s0.thumbnail, s0.coords.numpy(), sel0, s0.thumbnail_scale,
                          f"{cfg.samplers[0]} picks at {int(100 * max(cfg.budgets))}% ({s0.name})", out / "selection.png")
    figures["Selected spots over the tissue"] = "selection.png"
    return figures


def run_sample(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not (0.0 < args.budget <= 1.0):
        raise ValueError(f"--budget must be in (0, 1], got {args.budget}")
    out = prepare_out_dir(args.out, args.force)
    sections, info = pdata.load_sections(args.data, cfg, out)
    chosen = _pick(sections, args.sections)
    genes, _ = pdata.choose_genes(chosen, cfg)
    pool = _pool(chosen, genes)
    ctx = sampling.SamplingContext.build(pool, [], info, cfg)
    selected = sampling.select(ctx, args.sampler, args.budget, cfg.seed)
    write_json(out / "selection.json", {"sections": pool["names"], "sampler": args.sampler, "budget": args.budget,
                                        "indices": selected.tolist()})
    write_json(out / "metrics.json", {"n_spots": int(len(pool["targets"])), "n_selected": int(selected.numel()),
                                      "n_genes": len(genes)})
    _log(f"selected {selected.numel()} of {len(pool['targets'])} spots -> {out / 'selection.json'}")
    return 0


def run_train(args: argparse.Namespace) -> int:
    cfg = _config(args)
    out = prepare_out_dir(args.out, args.force)
    sections, _ = pdata.load_sections(args.data, cfg, out)
    chosen = _pick(sections, args.sections)
    genes, _ = pdata.choose_genes(chosen, cfg)
    pool = _pool(chosen, genes)
    idx = torch.arange(len(pool["targets"]))
    if args.selection:
        sel = sampling.read_selection(args.selection, pool["names"], len(idx))
        idx = torch.tensor(sel, dtype=torch.int64)
    labels = sampling.spot_labels(pool["targets"], seed=cfg.seed)
    trained = train_scr2net(pool["patches"][idx], pool["targets"][idx], labels[idx], cfg, seed=cfg.seed,
                            retrieval=not args.no_retrieval)
    # train_mean: the mean training profile, so `evaluate` can report the mean-predictor baseline.
    save_checkpoint({"model": trained.model.state_dict(), "genes": genes, "config": cfg.to_dict(),
                     "stx_version": stx.__version__, "retrieval": not args.no_retrieval,
                     "train_mean": pool["targets"][idx].mean(0)}, out / "checkpoint.pt")
    pred = predict(trained.model, pool["patches"][idx], cfg.device)
    metrics = evaluate.regression_metrics(pred, pool["targets"][idx])
    write_json(out / "metrics.json", {**metrics, "split": "train", "sections": pool["names"]})
    _log(f"checkpoint -> {out / 'checkpoint.pt'} (training PCC@M {metrics['pcc_m']:.3f})")
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    ckpt_path = Path(args.checkpoint)
    if not ckpt_path.is_file():
        raise FileNotFoundError(f"--checkpoint {ckpt_path} does not exist")
    ckpt = load_checkpoint(ckpt_path)
    for key in ("model", "genes", "config"):
        if key not in ckpt:
            raise ValueError(f"--checkpoint {ckpt_path} is not an stx checkpoint (no '{key}')")
    cfg = _config(args, {k: v for k, v in ckpt["config"].items() if k in ("patch_size", "patch_um", "backbone", "width")})
    out = prepare_out_dir(args.out, args.force)
    sections, _ = pdata.load_sections(args.data, cfg, out)
    chosen = _pick(sections, args.sections)
    genes = ckpt["genes"]
    missing = [g for g in genes if any(g not in s.gene_names for s in chosen)]
    if missing:
        raise ValueError(f"--checkpoint was trained on {len(genes)} genes; the evaluation data lacks "
                         f"{len(missing)} of them (e.g. {missing[:5]}): a checkpoint from another gene set")
    test = _pool(chosen, genes)
    model = make_model(cfg, len(genes))
    model.load_state_dict(ckpt["model"])
    pred = predict(model, test["patches"], cfg.device)
    metrics = evaluate.regression_metrics(pred, test["targets"], coords=test["coords"], gene_names=genes)
    if ckpt.get("train_mean") is not None:  # checkpoints written before train_mean was stored lack it
        baseline = evaluate.mean_predictor_metrics(ckpt["train_mean"].view(1, -1), test["targets"])
        metrics["mean_predictor"] = {k: baseline[k] for k in ("mse", "mae", "pcc_m", "pcc_s", "pcc_f",
                                                               "genes_pcc_ge_0_3")}
    write_json(out / "metrics.json", {**metrics, "split": "evaluate", "sections": test["names"]})
    _log(f"PCC@M {metrics['pcc_m']:.3f}, genes PCC>=0.3: {metrics['genes_pcc_ge_0_3']} -> {out / 'metrics.json'}")
    return 0


def dispatch(args: argparse.Namespace) -> int:
    return {"demo": run_demo, "sample": run_sample, "train": run_train, "evaluate": run_evaluate}[args.command](args)

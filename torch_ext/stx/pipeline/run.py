"""The sub-commands of ``python -m stx``. ``train`` and ``evaluate`` are the C++ training layer's
commands (include/stx/train/commands.h), the same ones ``stx-train`` runs; ``demo`` and ``sample``
add what is Python's: the samplers (RL), the report and its plots."""
from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

import stx
from stx._C import train as _train

from . import data as pdata
from . import evaluate, report, sampling
from .config import PipelineConfig, load_config, schema
from .outputs import prepare_out_dir, write_json
from .train import distributed_hooks, predict, train

try:
    from tqdm import tqdm
except ImportError:  # pragma: no cover
    tqdm = None


def config_overrides(args: argparse.Namespace) -> dict:
    """The config keys given as command-line flags (the schema's `flag` entries)."""
    return {k["name"]: getattr(args, k["name"], None) for k in schema() if k["flag"]}


def _resolve_config(args: argparse.Namespace, extra: dict | None = None) -> PipelineConfig:
    """The config file plus command-line flags, validated; no side effect on the process."""
    overrides = config_overrides(args)
    overrides.update(extra or {})
    return load_config(args.config, overrides)


def _config(args: argparse.Namespace, extra: dict | None = None) -> PipelineConfig:
    """The resolved config of a command that does work: its device is checked and its thread count applied."""
    cfg = _resolve_config(args, extra)
    if cfg.device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("config 'device' is cuda but no CUDA device is available")
    if cfg.num_threads > 0:
        torch.set_num_threads(cfg.num_threads)
    return cfg


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
    train_secs, test_secs = _train.split_sections(sections, args.test_sections or "")
    genes, gene_rule = pdata.choose_genes(train_secs, cfg)
    pool = pdata.pool(train_secs, genes)
    test = pdata.pool(test_secs, genes)
    n_pool = len(pool["targets"])
    small = [b for b in cfg.budgets if int(b * n_pool) < 2]
    if small:
        raise ValueError(f"config 'budgets' {small} select fewer than 2 of the {n_pool} training spots; "
                         f"the smallest budget is 2/{n_pool} = {2 / n_pool:.3g}")
    _log(f"data: {data_info['kind']}; train {pool['names']} ({n_pool} spots), "
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
            trained = train(pool["patches"][selected], pool["targets"][selected], labels[selected], cfg, seed=seed,
                            retrieval=model_name == "scr2net")
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
        "n_train_spots": n_pool, "n_test_spots": int(len(test["targets"])),
        "seeds": cfg.seeds, "seconds": time.time() - t0,
        "mean_predictor": baseline,
    }
    headline = _headline(results, cfg)
    metrics_json = {**headline, "summary": summary, "config": cfg.to_dict(), "runs": results,
                    "paired": report.paired_comparisons(results), "stx_version": stx.__version__}
    write_json(out / "selection.json", selections)
    report.write_report(out / "report.md", summary, results, figures)
    write_json(out / "metrics.json", metrics_json)
    _log(f"SCR2Net pcc_m {headline['pcc_m']:.3f} vs mean predictor {baseline['pcc_m']:.3f} "
         f"({headline['sampler']} sampler, budget {headline['budget']:g})")
    _log(f"report: {(out / 'report.md').resolve()}  ({time.time() - t0:.0f} s)")
    return 0


def _headline(results: list[dict], cfg: PipelineConfig) -> dict:
    """The top-level metrics.json numbers: SCR2Net with the first sampler at the largest budget."""
    rows = [r for r in results if r["model"] == "scr2net" and r["sampler"] == cfg.samplers[0]
            and r["budget"] == max(cfg.budgets)]
    out = {k: float(np.mean([r["metrics"][k] for r in rows])) for k in evaluate.METRIC_KEYS}
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
    thumb, thumb_scale = pdata.thumbnail(s0)
    report.plot_selection(thumb, s0.coords.numpy(), sel0, thumb_scale,
                          f"{cfg.samplers[0]} picks at {int(100 * max(cfg.budgets))}% ({s0.name})", out / "selection.png")
    figures["Selected spots over the tissue"] = "selection.png"
    return figures


def run_sample(args: argparse.Namespace) -> int:
    cfg = _config(args)
    if not (0.0 < args.budget <= 1.0):
        raise ValueError(f"--budget must be in (0, 1], got {args.budget}")
    out = prepare_out_dir(args.out, args.force)
    sections, info = pdata.load_sections(args.data, cfg, out)
    chosen = pdata.pick_sections(sections, args.sections)
    genes, _ = pdata.choose_genes(chosen, cfg)
    pool = pdata.pool(chosen, genes)
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
    _train.run_train(cfg.native, args.data or "", args.sections, args.out, selection=args.selection or "",
                     force=args.force, resume=args.resume, retrieval=not args.no_retrieval, log=_log,
                     **distributed_hooks(cfg))
    return 0


def run_evaluate(args: argparse.Namespace) -> int:
    cfg = _config(args)
    _train.run_evaluate(cfg.native, args.checkpoint, args.data or "", args.sections, args.out, force=args.force,
                        log=_log)
    return 0


def run_config(args: argparse.Namespace) -> int:
    print(json.dumps(_resolve_config(args).to_dict(), indent=2, sort_keys=True))
    return 0


def run_schema(args: argparse.Namespace) -> int:
    print(json.dumps(schema(), indent=2))
    return 0


def run_baseline(args: argparse.Namespace) -> int:
    from .baseline import run_baseline as run

    return run(args, lambda extra: _config(args, extra), _log)


def run_pixnet(args: argparse.Namespace) -> int:
    from .pixnet import run_pixnet as run

    return run(args, lambda extra: _config(args, extra), _log)


def dispatch(args: argparse.Namespace) -> int:
    commands = {"demo": run_demo, "sample": run_sample, "train": run_train, "evaluate": run_evaluate,
                "baseline": run_baseline, "pixnet": run_pixnet, "config": run_config, "schema": run_schema}
    return commands[args.command](args)

"""``python -m stx baseline``: the single-patch baseline study (issue #18, docs/baseline.md).

In each fold of ``--protocol`` (``fixed``: the held-out sections of ``--test-sections``, default the
last; ``loso``: each section in turn; ``lopo``: each donor in turn), each backbone of ``--backbones`` is
trained with the ``patch_regressor`` recipe (same seed and config, best model on a fixed validation
split), evaluated on the held-out spots, and reported with its parameter counts, its accuracy per gene
set (HEG, HVG, markers) and the Spearman correlation of per-gene PCC with Moran's I and with abundance;
over several folds, with the mean and 95 % t-interval per backbone.
Writes baseline.json, report.md and one scatter plot per backbone and fold into --out.
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
from .stats import mean_interval
from .train import predict, train


def parameter_counts(cfg, backbone: str, num_genes: int) -> dict:
    net = PatchRegressor(num_genes=num_genes, backbone=backbone, small_cnn_width=cfg.width, hidden_dim=cfg.hidden_dim,
                         dropout=cfg.dropout)
    return {"backbone": net.backbone_parameters, "head": net.head_parameters}


def donor_of(section: str, donors: dict) -> str:
    """The donor of a section: from ``--donors`` when given, else the name without its trailing digits
    (HER2+ ``C2`` -> ``C``)."""
    if donors:
        for donor, names in donors.items():
            if section in names:
                return donor
        raise ValueError(f"--donors names no donor for section '{section}'")
    return section.rstrip("0123456789") or section


def parse_donors(text: str | None) -> dict:
    """``"A=s1,s2;B=s3"`` -> {"A": ["s1", "s2"], "B": ["s3"]}."""
    if not text:
        return {}
    donors = {}
    for part in text.split(";"):
        donor, sep, names = part.partition("=")
        if not sep or not donor.strip() or not names.strip():
            raise ValueError(f"--donors must look like 'A=s1,s2;B=s3', got '{part}'")
        donors[donor.strip()] = [n.strip() for n in names.split(",") if n.strip()]
    return donors


def folds(args, names: list[str]) -> list[str]:
    """Held-out sections of each fold, as --test-sections strings: ``fixed`` one fold (--test-sections,
    default the last section); ``loso`` each section in turn (single-donor: leave one section out);
    ``lopo`` each donor's sections in turn (multi-donor: leave one patient out)."""
    if args.protocol == "fixed":
        return [args.test_sections or names[-1]]
    if args.test_sections:
        raise ValueError(f"--test-sections applies to --protocol fixed, not {args.protocol}")
    if args.protocol == "loso":
        return names
    donors = parse_donors(args.donors)
    groups: dict = {}
    for n in names:
        groups.setdefault(donor_of(n, donors), []).append(n)
    if len(groups) < 2:
        raise ValueError(f"--protocol lopo needs sections of at least two donors; all of {names} are donor "
                         f"'{next(iter(groups))}' (give --donors, or use --protocol loso)")
    return [",".join(g) for g in groups.values()]


def run_fold(args, config, log, preset: dict, sections, test_names: str, markers, out: Path, tag: str) -> list:
    """Trains every backbone with the train sections of this fold and evaluates on its held-out ones."""
    backbones = [b for b in args.backbones.split(",") if b]
    cfg = config(preset)
    train_secs, test_secs = _train.split_sections(sections, test_names)
    genes, rule = pdata.choose_genes(train_secs, cfg)
    pool, test = pdata.pool(train_secs, genes), pdata.pool(test_secs, genes)
    sets = analysis.gene_sets(pool["targets"].numpy(), genes, top=args.set_size, markers=markers)
    abundance = pool["targets"].double().mean(0).numpy()
    log(f"fold {tag or 'fixed split'}: train {pool['names']} ({len(pool['targets'])} spots), held out {test['names']} "
        f"({len(test['targets'])} spots); {len(genes)} genes ({rule})")
    rows = []
    for backbone in backbones:
        run_cfg = config({**preset, "backbone": backbone})
        t0 = time.time()
        labels = torch.zeros(len(pool["targets"]), dtype=torch.long)  # the baseline uses no spot labels
        result = train(pool["patches"], pool["targets"], labels, run_cfg, seed=run_cfg.seed, retrieval=False)
        seconds = time.time() - t0
        pred = predict(result.model, test["patches"], run_cfg.device)
        if len(pred) > 1 and float(pred.std(0).max()) == 0.0:
            log(f"warning: {backbone} predicts the same profile for every held-out spot (every PCC is 0); its "
                f"head's ReLUs may have died -- try a lower lr than {run_cfg.lr:g}")
        metrics = evaluate.regression_metrics(pred, test["targets"], test["coords"], genes)
        pcc, moran = metrics["pcc_per_gene"], metrics["morans_i_true"]
        structure = analysis.accuracy_vs_structure(pcc, moran, abundance)
        plot = f"pcc_vs_structure_{backbone}{tag and '_' + tag}.png"
        analysis.scatter_plots(pcc, moran, abundance, structure, out / plot)
        rows.append({"backbone": backbone, "fold": tag, "train_sections": pool["names"],
                     "test_sections": test["names"], "genes": genes,
                     "gene_sets": {k: [genes[i] for i in v] for k, v in sets.items()},
                     "parameters": parameter_counts(run_cfg, backbone, len(genes)),
                     "train_seconds": seconds, "pcc_m": metrics["pcc_m"],
                     "genes_pcc_ge_0_3": metrics["genes_pcc_ge_0_3"], "sets": analysis.set_metrics(pcc, sets),
                     "pcc_vs_structure": structure, "plot": plot,
                     "validation": {k: result.validation[k] for k in ("steps", "mse", "best_step")}})
        best = f", best validation step {result.validation['best_step']}" if result.validation["steps"] else ""
        log(f"{backbone} ({tag or 'fixed split'}): mean PCC {metrics['pcc_m']:.3f}, {seconds:.0f} s{best}")
    return rows


def summary(rows: list[dict]) -> list[dict]:
    """Per backbone over folds: mean and 95 % t-interval of each headline number."""
    out = []
    for backbone in dict.fromkeys(r["backbone"] for r in rows):
        mine = [r for r in rows if r["backbone"] == backbone]
        values = {"pcc_m": [r["pcc_m"] for r in mine]}
        for name in mine[0]["sets"]:
            values[f"{name}_mean_pcc"] = [r["sets"][name]["mean_pcc"] for r in mine]
            values[f"{name}_genes_pcc_ge_0_3"] = [r["sets"][name]["genes_pcc_ge_0_3"] for r in mine]
        for key in ("morans_i", "abundance"):
            rhos = [r["pcc_vs_structure"][key]["spearman_rho"] for r in mine]
            values[f"rho_pcc_{key}"] = [v for v in rhos if v is not None]
        out.append({"backbone": backbone, "folds": len(mine),
                    **{k: dict(zip(("mean", "ci95"), mean_interval(v))) for k, v in values.items()}})
    return out


def run_baseline(args, config, log) -> int:
    """``config(extra)`` resolves the run's config with extra keys; ``log`` prints progress."""
    preset = {"model": "patch_regressor", "val_fraction": args.val_fraction}
    cfg = config(preset)
    out = prepare_out_dir(args.out, args.force)
    sections, info = pdata.load_sections(args.data, cfg, out)
    names = [s.name for s in sections]
    markers = _train.read_gene_list(args.markers) if args.markers else None
    plan = folds(args, names)
    log(f"data: {info['kind']}; protocol {args.protocol}: {len(plan)} fold(s), held out {plan}")
    rows = []
    for done, held in enumerate(plan, 1):
        tag = "" if args.protocol == "fixed" else held.replace(",", "+")
        rows += run_fold(args, config, log, preset, sections, held, markers, out, tag)
        # after every fold, so an interrupted study keeps the folds it finished
        write_json(out / "baseline.json", {"stx_version": stx.__version__, "data": info, "protocol": args.protocol,
                                           "folds": plan, "folds_done": done, "complete": done == len(plan),
                                           "config": cfg.to_dict(), "results": rows, "summary": summary(rows)})
    (out / "report.md").write_text(report(rows, args.protocol))
    log(f"wrote {out / 'report.md'}")
    return 0


def report(rows: list[dict], protocol: str) -> str:
    set_names = list(rows[0]["sets"])
    head = ["backbone", "held out", "backbone params", "head params", "train s", "best step"]
    head += [f"{s} mean PCC" for s in set_names] + [f"{s} genes PCC>=0.3" for s in set_names]
    head += ["rho(PCC, Moran's I)", "p", "rho(PCC, abundance)", "p", "follows"]
    lines = ["# Single-patch baseline", "", f"Protocol `{protocol}`; training sections are every section not "
             "held out.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        s, v = r["sets"], r["pcc_vs_structure"]
        cells = [r["backbone"], ", ".join(r["test_sections"]), f"{r['parameters']['backbone']:,}",
                 f"{r['parameters']['head']:,}", f"{r['train_seconds']:.0f}", str(r["validation"]["best_step"] or "last")]
        cells += [f"{s[n]['mean_pcc']:.3f}" for n in set_names] + [f"{s[n]['genes_pcc_ge_0_3']}/{s[n]['n_genes']}"
                                                                  for n in set_names]
        cells += [_num(v["morans_i"]["spearman_rho"]), _num(v["morans_i"]["p_value"], "{:.2g}"),
                  _num(v["abundance"]["spearman_rho"]), _num(v["abundance"]["p_value"], "{:.2g}"), v["follows"]]
        lines.append("| " + " | ".join(cells) + " |")
    if len({r["fold"] for r in rows}) > 1:
        lines += ["", "Over the folds (mean ± 95 % t-interval):", "",
                  "| backbone | folds | mean PCC | " + " | ".join(f"{n} mean PCC" for n in set_names)
                  + " | rho(PCC, Moran's I) | rho(PCC, abundance) |", "|" + "---|" * (5 + len(set_names))]
        for row in summary(rows):
            cells = [row["backbone"], str(row["folds"]), _pm(row["pcc_m"])]
            cells += [_pm(row[f"{n}_mean_pcc"]) for n in set_names]
            cells += [_pm(row["rho_pcc_morans_i"], 2), _pm(row["rho_pcc_abundance"], 2)]
            lines.append("| " + " | ".join(cells) + " |")
    lines += [""] + [f"![{r['backbone']} {r['fold']}]({r['plot']})" for r in rows]
    return "\n".join(lines) + "\n"


def _num(value, fmt: str = "{:.2f}") -> str:
    return "n/a" if value is None else fmt.format(value)


def _pm(stat: dict, digits: int = 3) -> str:
    mean, half = stat["mean"], stat["ci95"]
    return f"{mean:.{digits}f}" if half != half else f"{mean:.{digits}f} ± {half:.{digits}f}"

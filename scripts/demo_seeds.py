#!/usr/bin/env python
"""The default synthetic study (`python -m stx demo`) over several seeds, aggregated.

Each seed is one full `python -m stx demo --seed S` run: a new synthetic study (tissue, domains,
reference), new sampler draws, a new learned-sampler training and new SCR2Net initialisations. The
held-out PCC@M of every (sampler, model, budget) is reported as mean ± sd over the seeds, with the
mean-predictor baseline, and the paired difference learned sampler − random per budget (SCR2Net).

    .venv/bin/python scripts/demo_seeds.py --seeds 0,1,2 --out out/demo_seeds
"""
from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def mean_sd(values: list[float]) -> str:
    sd = statistics.stdev(values) if len(values) > 1 else 0.0
    return f"{round(statistics.fmean(values), 3) + 0.0:.3f} ± {sd:.3f}"  # + 0.0: no "-0.000"


def aggregate(per_seed: dict[int, dict]) -> tuple[dict, str]:
    seeds = sorted(per_seed)
    runs = [dict(r, seed_run=s) for s in seeds for r in per_seed[s]["runs"]]
    budgets = sorted({r["budget"] for r in runs})
    rows = list(dict.fromkeys((r["sampler"], r["model"]) for r in runs))
    table: dict = {}
    for sampler, model in rows:
        for b in budgets:
            vals = [statistics.fmean(r["metrics"]["pcc_m"] for r in runs if r["seed_run"] == s and
                                     r["sampler"] == sampler and r["model"] == model and r["budget"] == b)
                    for s in seeds]
            table[f"{sampler}/{model}@{b:g}"] = vals
    base = [per_seed[s]["summary"]["mean_predictor"]["pcc_m"] for s in seeds]
    lines = [f"Held-out PCC@M, mean ± sd over seeds {seeds} (one full demo per seed).", "",
             "| sampler / model | " + " | ".join(f"{int(round(100 * b))} %" for b in budgets) + " |",
             "|---" * (len(budgets) + 1) + "|"]
    for sampler, model in rows:
        lines.append(f"| {sampler} / {model} | " + " | ".join(mean_sd(table[f"{sampler}/{model}@{b:g}"])
                                                             for b in budgets) + " |")
    lines.append("| mean predictor | " + " | ".join(mean_sd(base) for _ in budgets) + " |")
    diffs = {}
    if any(s == "scrl" for s, _ in rows) and any(s == "random" for s, _ in rows):
        lines += ["", "Learned − random (SCR2Net), paired by seed: " + "; ".join(
            f"{int(round(100 * b))} %: " + mean_sd(d := [a - r for a, r in zip(table[f'scrl/scr2net@{b:g}'],
                                                                               table[f'random/scr2net@{b:g}'])])
            + f" (per seed {', '.join(f'{x:+.3f}' for x in d)})" for b in budgets)]
        diffs = {f"{b:g}": [a - r for a, r in zip(table[f"scrl/scr2net@{b:g}"], table[f"random/scr2net@{b:g}"])]
                 for b in budgets}
    return {"seeds": seeds, "pcc_m": table, "mean_predictor_pcc_m": base, "scrl_minus_random": diffs}, "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--out", default=str(REPO / "out" / "demo_seeds"))
    ap.add_argument("--config", default=None, help="a pipeline config passed to every demo")
    ap.add_argument("--force", action="store_true", help="re-run seeds that already have results")
    ap.add_argument("--python", default=sys.executable)
    args = ap.parse_args(argv)
    out = Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    per_seed, t0 = {}, time.time()
    for seed in (int(s) for s in args.seeds.split(",")):
        run_dir = out / f"seed{seed}"
        metrics = run_dir / "metrics.json"
        if args.force or not metrics.is_file():
            cmd = [args.python, "-m", "stx", "demo", "--seed", str(seed), "--out", str(run_dir), "--force"]
            if args.config:
                cmd += ["--config", str(Path(args.config).resolve())]
            t = time.time()
            with (out / f"seed{seed}.log").open("w") as fh:
                rc = subprocess.call(cmd, stdout=fh, stderr=subprocess.STDOUT, cwd=REPO)
            if rc != 0:
                raise SystemExit(f"seed {seed} failed (rc {rc}), see {out / f'seed{seed}.log'}")
            print(f"[seeds] seed {seed} done ({time.time() - t:.0f} s)", flush=True)
        per_seed[seed] = json.loads(metrics.read_text())
    result, md = aggregate(per_seed)
    (out / "seeds.json").write_text(json.dumps(result, indent=1))
    (out / "seeds.md").write_text(md + "\n")
    print(md)
    print(f"[seeds] {out / 'seeds.md'} ({time.time() - t0:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""``python -m stx {demo,sample,train,evaluate}``: the main job and its parts.

Every run writes ``metrics.json``; nothing already written (reports, checkpoints, selections) is
overwritten without ``--force``.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


def _common(p: argparse.ArgumentParser, out_default: str | None = None) -> None:
    p.add_argument("--data", default=None,
                   help="a Visium folder, a HEST-1k sample folder, or a legacy-ST (HER2+) folder; default: a synthetic study")
    p.add_argument("--config", default=None, help="JSON or YAML config (see docs/pipeline.md)")
    p.add_argument("--out", default=out_default, required=out_default is None, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    p.add_argument("--genes", default=None, help="gene list: a .npy or a text file with one name per line")
    p.add_argument("--top-genes", type=int, default=None, help="use the N genes with the highest mean expression")
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--device", default=None, help="cpu or cuda")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m stx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sampling -> SCR2Net -> evaluation -> report")
    _common(demo, out_default="out/demo")
    demo.add_argument("--quick", action="store_true", help="a smaller run (fewer budgets, epochs and samplers)")
    demo.add_argument("--test-sections", default=None, help="comma-separated held-out sections (default: the last)")

    sample = sub.add_parser("sample", help="pick spots to sequence with a sampler at a budget")
    _common(sample)
    sample.add_argument("--sections", required=True, help="comma-separated sections forming the pool")
    sample.add_argument("--sampler", default="random", help="scrl | random | grid | coreset")
    sample.add_argument("--budget", type=float, required=True, help="fraction of the pool, in (0, 1]")

    train = sub.add_parser("train", help="train SCR2Net on sections (optionally only the selected spots)")
    _common(train)
    train.add_argument("--sections", required=True, help="comma-separated training sections")
    train.add_argument("--selection", default=None, help="selection.json written by `sample`")
    train.add_argument("--no-retrieval", action="store_true", help="regression-only ablation")

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint on held-out sections")
    _common(evaluate)
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--sections", required=True, help="comma-separated evaluation sections")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from stx.pipeline import run

    try:
        return run.dispatch(args)
    except (ValueError, FileNotFoundError, FileExistsError, KeyError) as exc:
        print(f"stx {args.command}: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

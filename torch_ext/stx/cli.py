"""``python -m stx {demo,sample,train,evaluate,baseline,pixnet,config,schema}``: the Python front end of the
training layer (``stx-train`` is the native one: same config file, checkpoint and metrics.json).

Every run writes ``metrics.json``; nothing already written (reports, checkpoints, selections) is
overwritten without ``--force``. Errors are one line on stderr and exit code 2.
"""
from __future__ import annotations

import argparse
import json
import sys


def _json_value(text: str):
    """A numeric flag's value as JSON (so 1.5 or 1e23 reach the schema's check and its message)."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None


def _common(p: argparse.ArgumentParser, schema: list[dict], out_default: str | None = None) -> None:
    p.add_argument("--data", default=None, help="a Visium folder, a HEST-1k sample folder, a legacy-ST (HER2+) "
                   "folder or a synthetic study; default: a generated synthetic study")
    p.add_argument("--config", default=None, help="JSON or YAML config (see docs/pipeline.md)")
    p.add_argument("--out", default=out_default, required=out_default is None, help="output folder")
    p.add_argument("--force", action="store_true", help="overwrite results already in --out")
    for key in schema:  # one flag per config key that has one, exactly as stx-train offers them
        if key["flag"]:
            kind = _json_value if key["type"] in ("int", "float", "bool") else str
            p.add_argument(key["flag"], dest=key["name"], type=kind, default=None,
                           help=f"config '{key['name']}': {key['doc']}")


def build_parser() -> argparse.ArgumentParser:
    from stx.pipeline.config import schema

    keys = schema()
    parser = argparse.ArgumentParser(prog="python -m stx", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="sampling -> SCR2Net -> evaluation -> report")
    _common(demo, keys, out_default="out/demo")
    demo.add_argument("--quick", action="store_true", help="a smaller run (fewer budgets, epochs and samplers)")
    demo.add_argument("--test-sections", default=None, help="comma-separated held-out sections (default: the last)")

    sample = sub.add_parser("sample", help="pick spots to sequence with a sampler at a budget")
    _common(sample, keys)
    sample.add_argument("--sections", required=True, help="comma-separated sections forming the pool")
    sample.add_argument("--sampler", default="random", help="scrl | random | grid | coreset")
    sample.add_argument("--budget", type=float, required=True, help="fraction of the pool, in (0, 1]")

    train = sub.add_parser("train", help="train the config's model on sections (optionally only selected spots)")
    _common(train, keys)
    train.add_argument("--sections", required=True, help="comma-separated training sections")
    train.add_argument("--selection", default=None, help="selection.json written by `sample`")
    train.add_argument("--no-retrieval", action="store_true", help="regression-only ablation")
    train.add_argument("--resume", action="store_true",
                       help="continue the unfinished run whose checkpoint is in --out (config checkpoint_every)")

    evaluate = sub.add_parser("evaluate", help="evaluate a checkpoint on held-out sections")
    _common(evaluate, keys)
    evaluate.add_argument("--checkpoint", required=True)
    evaluate.add_argument("--sections", required=True, help="comma-separated evaluation sections")

    baseline = sub.add_parser("baseline", help="the single-patch baseline study: backbones, gene sets, PCC vs "
                              "Moran's I (docs/baseline.md)")
    _common(baseline, keys, out_default="out/baseline")
    baseline.add_argument("--backbones", default="small_cnn",
                          help="comma-separated: small_cnn, resnet18, resnet50, densenet121, mobilenet_v2, "
                          "efficientnet_b0 (config backbone_weights applies to every one)")
    baseline.add_argument("--protocol", choices=("fixed", "loso", "lopo"), default="fixed",
                          help="fixed: one split (--test-sections); loso: single-donor, each section held out in "
                          "turn; lopo: multi-donor, each donor's sections held out in turn")
    baseline.add_argument("--test-sections", default=None,
                          help="--protocol fixed: comma-separated held-out sections (default: the last)")
    baseline.add_argument("--donors", default=None,
                          help="--protocol lopo: 'A=s1,s2;B=s3' (default: a section's name without trailing digits)")
    baseline.add_argument("--markers", default=None, help="marker gene list (.npy of strings or text, one per line)")
    baseline.add_argument("--set-size", type=int, default=50, help="genes in the HEG and HVG sets")
    baseline.add_argument("--val-fraction", type=float, default=0.1,
                          help="the recipe's fixed validation split: share of the training spots held back to keep "
                          "the model of the best validation loss (config val_fraction; 0: the last model)")

    pixnet = sub.add_parser("pixnet", help="the PixNet study: a dense model vs the spot-patch model at every region "
                            "size of the held-out sections (docs/pixnet.md)")
    _common(pixnet, keys, out_default="out/pixnet")
    pixnet.add_argument("--test-sections", default=None, help="comma-separated held-out sections (default: the last)")

    config = sub.add_parser("config", help="print the resolved config (defaults < --config file < flags)")
    _common(config, keys, out_default="")
    sub.add_parser("schema", help="print the config schema (every key, type, default, range)")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from stx.pipeline import run

    try:
        return run.dispatch(args)
    except (ValueError, OSError, KeyError, RuntimeError) as exc:
        message = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"stx {args.command}: error: {message}", file=sys.stderr)
        return 2


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

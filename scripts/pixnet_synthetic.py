"""The synthetic PixNet study of docs/pixnet.md: one synthetic study with truth at 2/8/16 um bins and
100 um spots, then `python -m stx pixnet` over seeds for two training conditions (55 um spots only;
spots + 16 + 8 um bins), each against the spot-patch model on the same held-out section.

    python scripts/pixnet_synthetic.py --out out/pixnet_synthetic [--seeds 3] [--steps 200]
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import stx
from stx.cli import main as stx_main

CONDITIONS = {"spots": ["spots"], "spots+16+8um": ["spots", "square_016um", "square_008um"]}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--image-px", type=int, default=960)
    p.add_argument("--force", action="store_true")
    args = p.parse_args()
    out = Path(args.out)
    data = out / "study"
    if not (data / "study.json").exists():
        stx.data.make_synthetic(str(data), seed=0, n_sections=4, image_size_px=args.image_px,
                                bin_sizes_um=[2, 8, 16], extra_spot_diameters_um=[100])
    config = {"steps": args.steps, "patch_size": 32, "patch_um": 40, "tile_px": 128, "tile_batch": 4,
              "top_genes": 50, "width": 16, "decoder_channels": 32, "eval_max_regions": 5000, "lr": 2e-3,
              "stitch_margin": 64}
    for name, scales in CONDITIONS.items():
        cfg = out / f"config_{name}.json"
        cfg.write_text(json.dumps({**config, "train_scales": scales}))
        argv = ["pixnet", "--data", str(data), "--config", str(cfg), "--seeds", str(args.seeds),
                "--out", str(out / name)]
        if stx_main(argv + (["--force"] if args.force else [])) != 0:
            return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

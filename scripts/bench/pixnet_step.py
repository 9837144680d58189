"""One PixNet training step on a 512 x 512 tile (issue #17): DenseExpressionNet predicts the
[1, G, 512, 512] map (G = 250), the tile loss (stx::train::tile_spot_loss) reads ~30 spots out of it
with one spot_pool call, and AdamW steps. Printed side by side in one run: the whole step, the
model's forward + backward alone, and spot_pool's forward + backward on a map of the same shape,
with spot_pool's share of the step.

  .venv/bin/python scripts/bench/pixnet_step.py [--repeats 5] [--genes 250] [--spots 30] [--tile 512]
"""
from __future__ import annotations

import argparse
import math

import torch

import stx
from stx import _C
from timing import median_time, print_header  # scripts/bench/timing.py


def spots_in_tile(n: int, tile: int, radius: float, g: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """A hexagonal Visium-like grid of whole spots inside the tile, n of them at most."""
    pitch = (tile - 2 * radius) / math.ceil(math.sqrt(n))
    centres = []
    y = radius
    row = 0
    while y <= tile - radius and len(centres) < n:
        x = radius + (pitch / 2 if row % 2 else 0.0)
        while x <= tile - radius and len(centres) < n:
            centres.append((y, x))
            x += pitch
        y += pitch * math.sqrt(3) / 2
        row += 1
    centers = torch.tensor(centres, dtype=torch.float32)
    return centers, torch.full((len(centres),), radius)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--genes", type=int, default=250)
    ap.add_argument("--spots", type=int, default=30)
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--radius", type=float, default=27.5, help="spot radius in tile pixels (55 um at 1 um/px)")
    args = ap.parse_args()
    print_header("scripts/bench/pixnet_step.py")
    g = torch.Generator().manual_seed(0)
    torch.manual_seed(0)
    net = stx.modules.DenseExpressionNet(args.genes)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    image = torch.randn(1, 3, args.tile, args.tile, generator=g)
    centers, radii = spots_in_tile(args.spots, args.tile, args.radius, g)
    targets = torch.rand(len(centers), args.genes, generator=g) * 100

    def step():
        loss = _C.train.tile_spot_loss(net(image), centers, radii, targets)[0]
        opt.zero_grad()
        loss.backward()
        opt.step()

    def model_only():
        net(image).sum().backward()

    dense = torch.randn(1, args.genes, args.tile, args.tile, generator=g, requires_grad=True)

    def pool_only():
        stx.ops.spot_pool(dense, centers, radii).sum().backward()

    t_step = median_time(step, args.repeats)
    t_model = median_time(model_only, args.repeats)
    t_pool = median_time(pool_only, args.repeats)
    print(f"tile {args.tile}x{args.tile}, G = {args.genes}, {len(centers)} spots of radius {args.radius} px; "
          f"{torch.get_num_threads()} threads; median of {args.repeats}")
    print(f"{'training step (forward, tile loss, backward, AdamW)':<56} {t_step * 1e3:9.1f} ms")
    print(f"{'model forward + backward alone':<56} {t_model * 1e3:9.1f} ms  ({t_model / t_step:.2f} of the step)")
    print(f"{'spot_pool forward + backward on the [1, G, tile, tile] map':<56} {t_pool * 1e3:9.1f} ms  "
          f"({t_pool / t_step:.3f} of the step)")


if __name__ == "__main__":
    main()

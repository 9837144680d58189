#pragma once
// PixNet's tile loss for dense expression models (docs/pixnet.md): the predicted map of an image
// tile, [B, G, h, w], is read out inside every spot of the tile with the spot's true radius by one
// spot_pool call (hard disk sum), and compared with the spot's measured expression:
//   L = MSE + pcc_weight * (1 - PCC),
// MSE over spots and genes weighted by the border rule below; PCC per spot across its genes
// (stx::ops::pearson_loss along genes), averaged over the spots of non-zero weight (unweighted: a
// correlation does not change when a cut spot's sum is extrapolated). Multi-scale: radii [N, S] and targets [N, S, G] (the loss averaged over
// scales, each spot read once per scale).
//
// Spots cut by the tile border (border rule, `border`):
//   "drop"   (default) a spot whose disk is not wholly inside the map has weight 0: only whole spots
//            train (sample tiles with a margin, or accept fewer spots per tile);
//   "weight" a cut spot's disk sum is extrapolated from its covered part (sum / covered fraction)
//            and its terms are weighted by that fraction.
// The covered fraction is the in-map pixel count of the disk over its whole pixel count, as
// spot_pool's reduce="area" counts them (pixel (i, j) is inside when (i - cy)^2 + (j - cx)^2 <= r^2;
// for shape "square", when |i - cy| <= r and |j - cx| <= r).
// A spot that covers no pixel of the map, a tile with no spot, an empty scale list, radii above
// 4 x max(h, w, 256), a gene count that differs between the map and the targets, and non-finite
// targets are errors naming the argument.
#include <ATen/core/Tensor.h>

#include <string>

#include <stx/macros.h>

namespace stx::train {

struct TileLossOptions {
  double pcc_weight = 0.5;     // PixNet's lambda
  std::string border = "drop"; // "drop" | "weight"
  std::string shape = "disk";  // spot_pool's region shape: "disk" (spots) or "square" (bins, radius = half side)
  // false: compare the region sums with the targets; true: compare log1p(sums) with targets given as
  // log1p(counts), so the map is a density of counts whose sums are right at every region size and
  // the loss sees the log scale of expression (MSE of raw counts is ruled by the few highest genes).
  bool log1p = false;
};

struct TileLoss {
  at::Tensor loss;      // scalar, differentiable in dense
  at::Tensor weight;    // [N] or [N, S]: each spot's weight (covered fraction, or 0/1 for "drop")
  at::Tensor predicted; // [N, G] / [N, S, G]: the disk sums (extrapolated for "weight")
};

// dense [B, G, h, w]; centers [N, 3] (batch, y, x) or [N, 2] in map pixels; radii [N] or [N, S] in
// map pixels; targets [N, G] or [N, S, G] (the quantity a disk sum of the map should give).
STX_API TileLoss tile_spot_loss(const at::Tensor& dense, const at::Tensor& centers, const at::Tensor& radii,
                                const at::Tensor& targets, const TileLossOptions& options = {});

}  // namespace stx::train

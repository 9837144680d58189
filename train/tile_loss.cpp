#include <stx/train/tile_loss.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <stx/ops/losses.h>
#include <stx/ops/spot_pool.h>

#include "ops/spot_pool_common.h"

namespace stx::train {

TileLoss tile_spot_loss(const at::Tensor& dense, const at::Tensor& centers, const at::Tensor& radii,
                        const at::Tensor& targets, const TileLossOptions& options) {
  TORCH_CHECK(options.border == "drop" || options.border == "weight",
              "tile_spot_loss: border must be \"drop\" or \"weight\", got \"", options.border, "\"");
  TORCH_CHECK(options.shape == "disk" || options.shape == "square",
              "tile_spot_loss: shape must be \"disk\" or \"square\", got \"", options.shape, "\"");
  TORCH_CHECK(std::isfinite(options.pcc_weight) && options.pcc_weight >= 0.0,
              "tile_spot_loss: pcc_weight must be finite and >= 0, got ", options.pcc_weight);
  TORCH_CHECK(dense.dim() == 4 && at::isFloatingType(dense.scalar_type()),
              "tile_spot_loss: dense must be a floating [B, G, h, w] map, got ", dense.sizes(), " ",
              dense.scalar_type());
  TORCH_CHECK(centers.dim() == 2 && (centers.size(1) == 2 || centers.size(1) == 3),
              "tile_spot_loss: centers must be [N, 2] (y, x) or [N, 3] (batch, y, x), got ", centers.sizes());
  const int64_t n = centers.size(0), g = dense.size(1), h = dense.size(2), w = dense.size(3);
  TORCH_CHECK(n > 0, "tile_spot_loss: the tile has no spots (centers is empty): nothing to train on");
  TORCH_CHECK((radii.dim() == 1 || radii.dim() == 2) && radii.size(0) == n,
              "tile_spot_loss: radii must be [N] or [N, S] with N = ", n, " spots, got ", radii.sizes());
  const bool multi = radii.dim() == 2;
  const int64_t s = multi ? radii.size(1) : 1;
  TORCH_CHECK(s > 0, "tile_spot_loss: radii [N, S] has an empty scale list (S = 0)");
  const std::vector<int64_t> want = multi ? std::vector<int64_t>{n, s, g} : std::vector<int64_t>{n, g};
  TORCH_CHECK(targets.sizes() == at::IntArrayRef(want), "tile_spot_loss: targets must be ", at::IntArrayRef(want),
              " (spots", multi ? ", scales" : "", ", genes of dense = ", g, "), got ", targets.sizes(),
              targets.dim() == static_cast<int64_t>(want.size()) && targets.size(-1) != g ? ": a gene panel mismatch"
                                                                                          : "");
  TORCH_CHECK(at::isFloatingType(targets.scalar_type()) && at::isfinite(targets).all().item<bool>(),
              "tile_spot_loss: targets must be floating and finite");
  TORCH_CHECK(options.pcc_weight == 0.0 || g >= 2, "tile_spot_loss: the PCC term needs at least 2 genes, got ", g,
              " (set pcc_weight 0)");

  // Bounded like spot_pool's reduce="area", which computes the covered fractions below.
  const double max_radius = stx::ops::detail::max_area_radius(h, w);
  const auto r = radii.to(at::kCPU, at::kDouble).reshape({n, s});
  const auto bad = (~(r.ge(0.0) & r.le(max_radius))).reshape({n * s}).nonzero();  // NaN fails both
  if (bad.numel() > 0) {
    const int64_t i = bad[0].item<int64_t>();
    TORCH_CHECK(false, "tile_spot_loss: spot ", i / s, " has radius ", r.reshape({n * s})[i].item<double>(),
                "; radii must be in [0, 4 x max(h, w, 256)] = [0, ", max_radius, "] map pixels");
  }
  // Covered fraction of every (spot, scale): spot_pool's own membership and footprint count, read
  // out of a map of ones with reduce="area" (in-map pixels over the whole disk's).
  const auto yx = centers.narrow(1, centers.size(1) - 2, 2);  // the batch does not change a fraction
  const auto ones = at::ones({1, 1, h, w}, at::TensorOptions().dtype(at::kDouble));
  auto [area_mean, covered] = stx::ops::spot_pool(ones, yx.to(at::kCPU, at::kDouble), r, options.shape, "area");
  const auto in_map = covered.to(at::kDouble).reshape({n, s});
  const auto empty = in_map.reshape({n * s}).eq(0).nonzero();
  if (empty.numel() > 0) {
    const int64_t i = empty[0].item<int64_t>() / s;
    TORCH_CHECK(false, "tile_spot_loss: spot ", i, " at (y ", yx[i][0].item<double>(), ", x ", yx[i][1].item<double>(),
                ") covers no pixel of the ", h, " x ", w,
                " tile: it lies wholly outside it, or its radius is below 0.5 map pixels");
  }
  // The mean is in-map count x (1 / whole count): recover the whole count as an integer, so a whole
  // spot's fraction is exactly 1.
  const auto fraction = in_map / (in_map / area_mean.reshape({n, s})).round();
  const bool drop = options.border == "drop";
  auto weight = drop ? fraction.eq(1.0).to(at::kDouble) : fraction;
  TORCH_CHECK(weight.sum().item<double>() > 0.0, "tile_spot_loss: no spot lies wholly inside the ", h, " x ", w,
              " tile (border \"drop\"); take tiles with a margin or use border \"weight\"");

  auto pooled = std::get<0>(stx::ops::spot_pool(dense, centers, radii, options.shape, "sum"));  // [N, (S,) G]
  const auto opts = pooled.options();
  auto frac = fraction.to(opts).reshape(multi ? at::IntArrayRef{n, s, 1} : at::IntArrayRef{n, 1});
  auto predicted = drop ? pooled : pooled / frac;
  // Rows (spot, scale) that count, and their weights.
  auto rows_pred = predicted.reshape({n * s, g});
  auto rows_true = targets.to(opts).reshape({n * s, g});
  auto row_w = weight.reshape({n * s});
  auto used = row_w.gt(0.0).nonzero().squeeze(1).to(pooled.device());
  auto p = rows_pred.index_select(0, used), t = rows_true.index_select(0, used);
  if (options.log1p) p = at::log1p(p.clamp_min(0.0));  // a density map's sums are >= 0 up to rounding
  auto wu = row_w.to(opts).index_select(0, used);
  auto mse = ((p - t).pow(2).mean(1) * wu).sum() / wu.sum();
  auto loss = mse;
  if (options.pcc_weight > 0.0) loss = loss + options.pcc_weight * stx::ops::pearson_loss(p, t, /*dim=*/1);
  return {loss, weight.reshape(multi ? at::IntArrayRef{n, s} : at::IntArrayRef{n}), predicted};
}

}  // namespace stx::train

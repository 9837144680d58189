#include <stx/train/tile_loss.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include <stx/ops/losses.h>
#include <stx/ops/spot_pool.h>

namespace stx::train {

std::pair<int64_t, int64_t> disk_pixel_counts(double cy, double cx, double r, int64_t h, int64_t w) {
  int64_t whole = 0, inside = 0;
  // Rows are walked one by one and coordinates cast to integers: keep both bounded.
  TORCH_CHECK(std::isfinite(cy) && std::isfinite(cx) && std::abs(cy) <= 1e15 && std::abs(cx) <= 1e15,
              "disk_pixel_counts: the centre must be finite with |y|, |x| <= 1e15, got (", cy, ", ", cx, ")");
  TORCH_CHECK(r >= 0.0 && r <= 1e7, "disk_pixel_counts: the radius must be in [0, 1e7], got ", r);
  const double r2 = r * r;
  // Rows whose centres can meet the disk; per row the columns in [cx - half, cx + half], counted
  // with the exact membership test of spot_pool at the two ends.
  for (int64_t i = static_cast<int64_t>(std::ceil(cy - r)); i <= static_cast<int64_t>(std::floor(cy + r)); ++i) {
    const double dy2 = (i - cy) * (i - cy);
    if (dy2 > r2) continue;
    const double half = std::sqrt(r2 - dy2);
    int64_t lo = static_cast<int64_t>(std::ceil(cx - half)), hi = static_cast<int64_t>(std::floor(cx + half));
    while (lo <= hi && (i - cy) * (i - cy) + (lo - cx) * (lo - cx) > r2) ++lo;  // float64 rounding at the rim
    while (hi >= lo && (i - cy) * (i - cy) + (hi - cx) * (hi - cx) > r2) --hi;
    while ((i - cy) * (i - cy) + (lo - 1 - cx) * (lo - 1 - cx) <= r2) --lo;
    while ((i - cy) * (i - cy) + (hi + 1 - cx) * (hi + 1 - cx) <= r2) ++hi;
    if (hi < lo) continue;
    whole += hi - lo + 1;
    if (i >= 0 && i < h) inside += std::max<int64_t>(0, std::min(hi, w - 1) - std::max<int64_t>(lo, 0) + 1);
  }
  return {whole, inside};
}

TileLoss tile_spot_loss(const at::Tensor& dense, const at::Tensor& centers, const at::Tensor& radii,
                        const at::Tensor& targets, const TileLossOptions& options) {
  TORCH_CHECK(options.border == "drop" || options.border == "weight",
              "tile_spot_loss: border must be \"drop\" or \"weight\", got \"", options.border, "\"");
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

  // Covered fractions, on the CPU in float64 (the membership test of spot_pool).
  const auto c = centers.to(at::kCPU, at::kDouble).contiguous();
  const auto r = radii.to(at::kCPU, at::kDouble).reshape({n, s}).contiguous();
  const double* cp = c.const_data_ptr<double>();
  const double* rp = r.const_data_ptr<double>();
  const int64_t yx = centers.size(1) - 2;  // column of y
  auto fraction = at::empty({n, s}, at::kDouble);
  double* fp = fraction.mutable_data_ptr<double>();
  for (int64_t i = 0; i < n; ++i) {
    const double cy = cp[i * centers.size(1) + yx], cx = cp[i * centers.size(1) + yx + 1];
    for (int64_t k = 0; k < s; ++k) {
      const double rad = rp[i * s + k];
      TORCH_CHECK(std::isfinite(cy) && std::isfinite(cx) && std::isfinite(rad) && rad >= 0.0,
                  "tile_spot_loss: spot ", i, " has a non-finite centre or a negative radius");
      // Bounded like spot_pool's "area" reduction: counting a disk's pixels walks its rows.
      const double max_radius = 4.0 * static_cast<double>(std::max<int64_t>({h, w, 256}));
      TORCH_CHECK(rad <= max_radius, "tile_spot_loss: spot ", i, " has radius ", rad, ", more than 4 x max(h, w, 256) = ",
                  max_radius, " map pixels");
      TORCH_CHECK(cy + rad >= 0.0 && cy - rad <= static_cast<double>(h - 1) && cx + rad >= 0.0 &&
                      cx - rad <= static_cast<double>(w - 1),
                  "tile_spot_loss: spot ", i, " at (y ", cy, ", x ", cx, ") radius ", rad, " lies wholly outside the ", h,
                  " x ", w, " tile");
      const auto [whole, inside] = disk_pixel_counts(cy, cx, rad, h, w);
      TORCH_CHECK(whole > 0, "tile_spot_loss: spot ", i, " (radius ", rad,
                  ") covers no pixel centre; use radii of at least 0.5 map pixels");
      TORCH_CHECK(inside > 0, "tile_spot_loss: spot ", i, " at (y ", cy, ", x ", cx, ") radius ", rad,
                  " lies wholly outside the ", h, " x ", w, " tile");
      fp[i * s + k] = static_cast<double>(inside) / static_cast<double>(whole);
    }
  }
  const bool drop = options.border == "drop";
  auto weight = drop ? fraction.eq(1.0).to(at::kDouble) : fraction;
  TORCH_CHECK(weight.sum().item<double>() > 0.0, "tile_spot_loss: no spot lies wholly inside the ", h, " x ", w,
              " tile (border \"drop\"); take tiles with a margin or use border \"weight\"");

  auto pooled = std::get<0>(stx::ops::spot_pool(dense, centers, radii, "disk", "sum"));  // [N, (S,) G]
  const auto opts = pooled.options();
  auto frac = fraction.to(opts).reshape(multi ? at::IntArrayRef{n, s, 1} : at::IntArrayRef{n, 1});
  auto predicted = drop ? pooled : pooled / frac;
  // Rows (spot, scale) that count, and their weights.
  auto rows_pred = predicted.reshape({n * s, g});
  auto rows_true = targets.to(opts).reshape({n * s, g});
  auto row_w = weight.reshape({n * s});
  auto used = row_w.gt(0.0).nonzero().squeeze(1).to(pooled.device());
  auto p = rows_pred.index_select(0, used), t = rows_true.index_select(0, used);
  auto wu = row_w.to(opts).index_select(0, used);
  auto mse = ((p - t).pow(2).mean(1) * wu).sum() / wu.sum();
  auto loss = mse;
  if (options.pcc_weight > 0.0) loss = loss + options.pcc_weight * stx::ops::pearson_loss(p, t, /*dim=*/1);
  return {loss, weight.reshape(multi ? at::IntArrayRef{n, s} : at::IntArrayRef{n}), predicted};
}

}  // namespace stx::train

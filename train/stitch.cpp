#include <stx/train/stitch.h>

#include <ATen/ATen.h>
#include <ATen/core/grad_mode.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <vector>

#include <stx/ops/spot_pool.h>

namespace stx::train {

StitchResult stitched_predict(const std::function<at::Tensor(const at::Tensor&)>& forward, const at::Tensor& image,
                              const at::Tensor& centers, const at::Tensor& radii, const StitchOptions& o) {
  TORCH_CHECK(o.tile >= 1 && o.margin >= 0 && o.downsample >= 0,
              "stitched_predict: tile must be >= 1, margin and downsample >= 0, got ", o.tile, ", ", o.margin, ", ",
              o.downsample);
  TORCH_CHECK(o.shape == "disk" || o.shape == "square", "stitched_predict: shape must be \"disk\" or \"square\", got \"",
              o.shape, "\"");
  TORCH_CHECK(o.downsample == 0 || o.tile % o.downsample == 0, "stitched_predict: tile (", o.tile,
              ") must be a multiple of downsample (", o.downsample, ") so the blocks align across tiles");
  TORCH_CHECK(image.dim() == 3 && image.size(0) == 3 && at::isFloatingType(image.scalar_type()),
              "stitched_predict: image must be a floating [3, H, W] tensor, got ", image.sizes(), " ",
              image.scalar_type());
  TORCH_CHECK(centers.dim() == 2 && centers.size(1) == 2, "stitched_predict: centers must be [N, 2] (y, x), got ",
              centers.sizes());
  const int64_t n = centers.size(0), H = image.size(1), W = image.size(2);
  TORCH_CHECK(H > 0 && W > 0, "stitched_predict: the image is empty (", H, " x ", W, ")");
  TORCH_CHECK((radii.dim() == 1 || radii.dim() == 2) && radii.size(0) == n,
              "stitched_predict: radii must be [N] or [N, S] with N = ", n, ", got ", radii.sizes());
  TORCH_CHECK(radii.dim() == 1 || radii.size(1) > 0, "stitched_predict: radii [N, S] has an empty scale list");
  const auto c = centers.to(at::kCPU, at::kDouble).contiguous();
  const auto r = radii.to(at::kCPU, at::kDouble).contiguous();
  TORCH_CHECK(at::isfinite(c).all().item<bool>() && at::isfinite(r).all().item<bool>() &&
                  (n == 0 || r.min().item<double>() >= 0.0),
              "stitched_predict: centers must be finite and radii finite and >= 0");
  const auto reach = n == 0 ? at::empty({0}, at::kDouble) : (r.dim() == 1 ? r : std::get<0>(r.max(1)));

  at::NoGradGuard no_grad;  // inference: no tile keeps a graph alive
  StitchResult out;
  int64_t genes = -1;
  for (int64_t y0 = 0; y0 < H; y0 += o.tile) {
    for (int64_t x0 = 0; x0 < W; x0 += o.tile) {
      const int64_t y1 = std::min(H, y0 + o.tile), x1 = std::min(W, x0 + o.tile);
      const int64_t cy0 = std::max<int64_t>(0, y0 - o.margin), cy1 = std::min(H, y1 + o.margin);
      const int64_t cx0 = std::max<int64_t>(0, x0 - o.margin), cx1 = std::min(W, x1 + o.margin);
      const at::Tensor crop = image.slice(1, cy0, cy1).slice(2, cx0, cx1).unsqueeze(0).contiguous();
      at::Tensor pred = forward(crop);
      ++out.tiles;
      TORCH_CHECK(pred.defined() && pred.dim() == 4 && pred.size(0) == 1 && pred.size(2) == cy1 - cy0 &&
                      pred.size(3) == cx1 - cx0 && at::isFloatingType(pred.scalar_type()),
                  "stitched_predict: forward must map [1, 3, h, w] to a floating [1, G, h, w] map; for a ",
                  crop.sizes(), " input it returned ", pred.defined() ? pred.sizes() : at::IntArrayRef{});
      TORCH_CHECK(genes < 0 || pred.size(1) == genes, "stitched_predict: forward returned ", pred.size(1),
                  " channels for one tile and ", genes, " for another");
      if (genes < 0) {  // first tile: the outputs' sizes are known now
        genes = pred.size(1);
        const auto opts = at::TensorOptions().dtype(at::kFloat);
        std::vector<int64_t> shape{n};
        if (r.dim() == 2) shape.push_back(r.size(1));
        out.coverage = at::zeros(shape, opts);
        shape.push_back(genes);
        out.spots = at::zeros(shape, opts);
        if (o.downsample > 0) {
          const int64_t f = o.downsample;
          out.map = at::zeros({genes, (H + f - 1) / f, (W + f - 1) / f}, opts);
        }
      }
      const at::Tensor core = pred[0].slice(1, y0 - cy0, y1 - cy0).slice(2, x0 - cx0, x1 - cx0).to(at::kCPU, at::kFloat);
      if (n > 0) {
        // Spots whose disk (or square) can meet this core; their in-core sums add up over the partition.
        const auto cy = c.select(1, 0), cx = c.select(1, 1);
        const auto meets = (cy + reach).ge(y0) & (cy - reach).le(y1 - 1) & (cx + reach).ge(x0) & (cx - reach).le(x1 - 1);
        const auto idx = meets.nonzero().squeeze(1);
        if (idx.numel() > 0) {
          const auto shifted = c.index_select(0, idx) - at::tensor({static_cast<double>(y0), static_cast<double>(x0)},
                                                                    at::kDouble);
          auto [sums, cov] = stx::ops::spot_pool(core.unsqueeze(0), shifted, r.index_select(0, idx), o.shape, "sum");
          out.spots.index_add_(0, idx, sums);
          out.coverage.index_add_(0, idx, cov.to(at::kFloat));
        }
      }
      if (o.downsample > 0) {
        const int64_t f = o.downsample;
        const auto blocks = at::avg_pool2d(core.unsqueeze(0), {f, f}, {f, f}, {0, 0}, /*ceil_mode=*/true,
                                           /*count_include_pad=*/false)[0];
        out.map.slice(1, y0 / f, y0 / f + blocks.size(1)).slice(2, x0 / f, x0 / f + blocks.size(2)).copy_(blocks);
      }
    }
  }
  return out;
}

}  // namespace stx::train

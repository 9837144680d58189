// Polygon rasteriser: scanline fill with the even-odd rule (see stx/data/polygons.h).
#include <stx/data/polygons.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>

#include <algorithm>
#include <cmath>
#include <vector>

namespace stx::data {

at::Tensor rasterize_polygons(const at::Tensor& vertices, const at::Tensor& offsets, int64_t height, int64_t width,
                              double pixel_size, double origin_x, double origin_y, const at::Tensor& labels) {
  TORCH_CHECK(vertices.dim() == 2 && vertices.size(1) == 2, "rasterize_polygons: vertices must be [V, 2], got ",
              vertices.sizes());
  TORCH_CHECK(at::isFloatingType(vertices.scalar_type()), "rasterize_polygons: vertices must be floating point, got ",
              vertices.scalar_type());
  TORCH_CHECK(offsets.dim() == 1 && offsets.size(0) >= 1 && offsets.scalar_type() == at::kLong,
              "rasterize_polygons: offsets must be a 1-D int64 tensor [P + 1], got ", offsets.scalar_type(), " ",
              offsets.sizes());
  TORCH_CHECK(height >= 0 && width >= 0, "rasterize_polygons: height and width must be >= 0, got ", height, " x ",
              width);
  TORCH_CHECK(std::isfinite(pixel_size) && pixel_size > 0, "rasterize_polygons: pixel_size must be positive, got ",
              pixel_size);
  TORCH_CHECK(std::isfinite(origin_x) && std::isfinite(origin_y), "rasterize_polygons: origin must be finite");
  TORCH_CHECK(vertices.device().is_cpu() && offsets.device().is_cpu(),
              "rasterize_polygons: vertices and offsets must be CPU tensors");
  const at::Tensor xy = vertices.to(at::kDouble).contiguous();
  const at::Tensor off = offsets.contiguous();
  const int64_t P = off.size(0) - 1, V = xy.size(0);
  const int64_t* o = off.const_data_ptr<int64_t>();
  TORCH_CHECK(o[0] == 0 && o[P] == V, "rasterize_polygons: offsets must start at 0 and end at V=", V, ", got ", o[0],
              " and ", o[P]);
  for (int64_t p = 0; p < P; ++p) {
    TORCH_CHECK(o[p + 1] >= o[p], "rasterize_polygons: offsets must be non-decreasing (at polygon ", p, ")");
  }
  TORCH_CHECK(at::isfinite(xy).all().item<bool>(), "rasterize_polygons: vertices contain NaN or Inf");
  at::Tensor lab;
  if (labels.defined()) {
    TORCH_CHECK(labels.dim() == 1 && labels.size(0) == P, "rasterize_polygons: labels must be [P]=[", P, "], got ",
                labels.sizes());
    TORCH_CHECK(!at::isFloatingType(labels.scalar_type()) && labels.scalar_type() != at::kBool,
                "rasterize_polygons: labels must be an integer tensor, got ", labels.scalar_type());
    lab = labels.to(at::kLong).contiguous();
  } else {
    lab = at::arange(1, P + 1, at::kLong);
  }
  at::Tensor mask = at::zeros({height, width}, at::kLong);
  if (height == 0 || width == 0 || P == 0) return mask;
  const double* pts = xy.const_data_ptr<double>();
  const int64_t* lp = lab.const_data_ptr<int64_t>();
  int64_t* m = mask.data_ptr<int64_t>();
  const auto centre_x = [&](int64_t c) { return origin_x + (static_cast<double>(c) + 0.5) * pixel_size; };
  // First column whose centre is >= x (width if none): an estimate, then the exact comparison, so
  // the mask follows the documented pixel-centre rule to the last bit.
  const auto first_column_at_or_after = [&](double x) {
    const double estimate = std::ceil((x - origin_x) / pixel_size - 0.5) - 1;
    int64_t c = static_cast<int64_t>(std::clamp(estimate, 0.0, static_cast<double>(width)));
    while (c > 0 && centre_x(c - 1) >= x) --c;
    while (c < width && centre_x(c) < x) ++c;
    return c;
  };
  // Rows whose centre may lie in each polygon's [ymin, ymax], one extra either side against
  // rounding (a row without crossings paints nothing); clamped before the integer conversion.
  std::vector<int64_t> row_lo(P, 0), row_hi(P, -1);
  for (int64_t p = 0; p < P; ++p) {
    if (o[p + 1] - o[p] < 3) continue;  // not a polygon: paints nothing
    double ymin = pts[2 * o[p] + 1], ymax = ymin;
    for (int64_t i = o[p]; i < o[p + 1]; ++i) {
      ymin = std::min(ymin, pts[2 * i + 1]);
      ymax = std::max(ymax, pts[2 * i + 1]);
    }
    const double lim = static_cast<double>(height);
    row_lo[p] = static_cast<int64_t>(std::clamp(std::ceil((ymin - origin_y) / pixel_size - 0.5) - 1, 0.0, lim));
    row_hi[p] = static_cast<int64_t>(std::clamp(std::floor((ymax - origin_y) / pixel_size - 0.5) + 1, -1.0, lim - 1));
  }
  // Parallel over image rows: each row is painted by every polygon in order, so the last polygon
  // containing a pixel wins whatever the thread split.
  at::parallel_for(0, height, 16, [&](int64_t r0, int64_t r1) {
    std::vector<double> xs;
    for (int64_t p = 0; p < P; ++p) {
      const int64_t b = o[p], e = o[p + 1];
      const int64_t ra = std::max(r0, row_lo[p]), rb = std::min(r1 - 1, row_hi[p]);
      for (int64_t r = ra; r <= rb; ++r) {
        const double y = origin_y + (static_cast<double>(r) + 0.5) * pixel_size;
        xs.clear();
        for (int64_t i = b; i < e; ++i) {
          const int64_t j = i + 1 < e ? i + 1 : b;  // implied closing edge
          const double x1 = pts[2 * i], y1 = pts[2 * i + 1], x2 = pts[2 * j], y2 = pts[2 * j + 1];
          if ((y1 <= y) != (y2 <= y)) xs.push_back(x1 + (y - y1) * (x2 - x1) / (y2 - y1));
        }
        std::sort(xs.begin(), xs.end());
        // A centre x is inside when an odd number of crossings lie strictly to its right, i.e.
        // xs[2i] <= x < xs[2i + 1].
        for (size_t q = 0; q + 1 < xs.size(); q += 2) {
          const int64_t c1 = first_column_at_or_after(xs[q + 1]);
          for (int64_t c = first_column_at_or_after(xs[q]); c < c1; ++c) m[r * width + c] = lp[p];
        }
      }
    }
  });
  return mask;
}

}  // namespace stx::data

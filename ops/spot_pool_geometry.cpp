// Spot geometry: argument checks and the row segments each spot covers (see spot_pool_common.h).
#include "ops/spot_pool_common.h"

#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <utility>

namespace stx::ops::detail {

SpotShape parse_spot_shape(c10::string_view shape) {
  if (shape == "disk") return SpotShape::Disk;
  if (shape == "square") return SpotShape::Square;
  if (shape == "gaussian") return SpotShape::Gaussian;
  TORCH_CHECK(false, "stx spot ops: shape must be \"disk\", \"square\" or \"gaussian\", got \"",
              std::string(shape), "\"");
}

SpotReduce parse_spot_reduce(c10::string_view reduce) {
  if (reduce == "sum") return SpotReduce::Sum;
  if (reduce == "mean") return SpotReduce::Mean;
  if (reduce == "area") return SpotReduce::Area;
  TORCH_CHECK(false, "stx spot ops: reduce must be \"sum\", \"mean\" or \"area\", got \"", std::string(reduce),
              "\"");
}

void check_same_device(const at::Tensor& a, const char* a_name, const at::Tensor& b, const char* b_name) {
  TORCH_CHECK(a.device() == b.device(), "stx spot ops: ", b_name, " must be on the same device as ", a_name,
              " (", a.device(), "), got ", b.device());
}

void check_dense_map(const at::Tensor& dense, const char* name) {
  TORCH_CHECK(dense.dim() == 4, "stx spot ops: ", name, " must be a 4-D [B, G, H, W] map, got ", dense.dim(),
              "-D tensor of shape ", dense.sizes());
  const auto dt = dense.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble || dt == at::kBFloat16 || dt == at::kHalf, "stx spot ops: ",
              name, " must be float32, float64, bfloat16 or float16, got ", dt);
  TORCH_CHECK(dense.size(2) < std::numeric_limits<int32_t>::max() && dense.size(3) < std::numeric_limits<int32_t>::max(),
              "stx spot ops: ", name, " height and width must be < 2^31, got ", dense.sizes());
}

void check_spot_values(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii) {
  const auto dt = values.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble || dt == at::kBFloat16 || dt == at::kHalf,
              "stx spot_splat: values must be float32, float64, bfloat16 or float16, got ", dt);
  const int64_t want = radii.dim() + 1;
  TORCH_CHECK(values.dim() == want, "stx spot_splat: values must be ", want == 2 ? "[N, G]" : "[N, S, G]",
              " for radii of shape ", radii.sizes(), ", got shape ", values.sizes());
  for (int64_t d = 0; d < radii.dim(); ++d) {
    TORCH_CHECK(values.size(d) == radii.size(d), "stx spot_splat: values shape ", values.sizes(),
                " does not match radii shape ", radii.sizes());
  }
  check_same_device(values, "values", centers, "centers");
  check_same_device(values, "values", radii, "radii");
}

double max_area_radius(int64_t height, int64_t width) {
  return 4.0 * static_cast<double>(std::max<int64_t>({height, width, 256}));
}

std::vector<int64_t> spot_output_shape(const at::Tensor& radii, int64_t channels) {
  std::vector<int64_t> shape(radii.sizes().begin(), radii.sizes().end());
  shape.push_back(channels);
  return shape;
}

std::vector<int64_t> spot_coverage_shape(const at::Tensor& radii) {
  return std::vector<int64_t>(radii.sizes().begin(), radii.sizes().end());
}

c10::ScalarType spot_coverage_dtype(c10::ScalarType dense_dtype) {
  return dense_dtype == at::kDouble ? at::kDouble : at::kFloat;
}

namespace {

// The integers k in [lo, hi] with pred(k), where pred holds on one interval and [g0, g1] is a
// floating-point estimate of it. The estimate is only trusted to +-1: the exact membership test
// decides, so the result is bit-identical to testing every pixel.
template <class Pred>
std::pair<int64_t, int64_t> int_interval(double g0, double g1, int64_t lo, int64_t hi, Pred pred) {
  if (lo > hi) return {0, -1};
  auto clamp = [&](double v) {
    return static_cast<int64_t>(std::min(std::max(v, static_cast<double>(lo)), static_cast<double>(hi)));
  };
  int64_t a = clamp(std::ceil(g0));
  while (a > lo && pred(a - 1)) --a;
  for (int step = 0; step < 2 && a < hi && !pred(a); ++step) ++a;
  if (!pred(a)) return {0, -1};
  int64_t z = std::max(a, clamp(std::floor(g1)));
  while (z < hi && pred(z + 1)) ++z;
  while (z > a && !pred(z)) --z;
  return {a, z};
}

// Bounds wide enough for any footprint, clamped so int64 arithmetic never overflows.
int64_t lower_bound_of(double v) { return static_cast<int64_t>(std::max(std::floor(v) - 2.0, -4.0e18)); }
int64_t upper_bound_of(double v) { return static_cast<int64_t>(std::min(std::ceil(v) + 2.0, 4.0e18)); }

struct Footprint {
  SpotShape shape;
  double cy, cx, r, r2, two_sigma2;

  bool row_in(int64_t i) const {
    const double dy = static_cast<double>(i) - cy;
    return shape == SpotShape::Square ? std::abs(dy) <= r : dy * dy <= r2;
  }
  // Columns of row i inside the footprint, clamped to [lo, hi].
  std::pair<int64_t, int64_t> columns(int64_t i, int64_t lo, int64_t hi) const {
    const double dy = static_cast<double>(i) - cy;
    if (shape == SpotShape::Square) {
      return int_interval(cx - r, cx + r, lo, hi, [&](int64_t j) { return std::abs(static_cast<double>(j) - cx) <= r; });
    }
    const double dy2 = dy * dy;
    const double half = std::sqrt(std::max(0.0, r2 - dy2));
    return int_interval(cx - half, cx + half, lo, hi, [&](int64_t j) {
      const double dx = static_cast<double>(j) - cx;
      return dy2 + dx * dx <= r2;
    });
  }
  std::pair<int64_t, int64_t> rows(int64_t lo, int64_t hi) const {
    return int_interval(cy - r, cy + r, lo, hi, [&](int64_t i) { return row_in(i); });
  }
  // Gaussian weight of a squared distance; r = 0 covers only d2 = 0, with weight 1.
  double weight(double d2) const { return d2 == 0.0 ? 1.0 : std::exp(-d2 / two_sigma2); }

  // Sum of the weights over the whole footprint, ignoring the image bounds (reduce="area").
  double area() const {
    const int64_t lo_y = lower_bound_of(cy - r), hi_y = upper_bound_of(cy + r);
    const int64_t lo_x = lower_bound_of(cx - r), hi_x = upper_bound_of(cx + r);
    if (shape == SpotShape::Square) {
      const auto ys = rows(lo_y, hi_y);
      const auto xs = int_interval(cx - r, cx + r, lo_x, hi_x,
                                   [&](int64_t j) { return std::abs(static_cast<double>(j) - cx) <= r; });
      return static_cast<double>(ys.second - ys.first + 1) * static_cast<double>(xs.second - xs.first + 1);
    }
    const auto ys = rows(lo_y, hi_y);
    if (shape == SpotShape::Disk) {
      double total = 0;
      for (int64_t i = ys.first; i <= ys.second; ++i) {
        const auto xs = columns(i, lo_x, hi_x);
        total += static_cast<double>(xs.second - xs.first + 1);
      }
      return total;
    }
    // Gaussian: separable weights, column sums from a prefix over the footprint's columns.
    std::vector<double> prefix(static_cast<size_t>(hi_x - lo_x + 2), 0.0);
    for (int64_t j = lo_x; j <= hi_x; ++j) {
      const double dx = static_cast<double>(j) - cx;
      prefix[j - lo_x + 1] = prefix[j - lo_x] + weight(dx * dx);
    }
    double total = 0;
    for (int64_t i = ys.first; i <= ys.second; ++i) {
      const auto xs = columns(i, lo_x, hi_x);
      if (xs.first > xs.second) continue;
      const double dy = static_cast<double>(i) - cy;
      total += weight(dy * dy) * (prefix[xs.second - lo_x + 1] - prefix[xs.first - lo_x]);
    }
    return total;
  }
};

// One spot's rings and segments, built independently per spot and concatenated afterwards.
struct SpotRings {
  std::vector<int64_t> ring_size;  // segments per ring
  std::vector<int32_t> ring_scale;
  std::vector<int32_t> row, col0, col1;
  std::vector<double> weights;          // gaussian only, per pixel in segment order
  std::vector<double> coverage, norm;   // per scale
};

SpotRings build_spot(double cy, double cx, const double* radii, int64_t S, int64_t H, int64_t W, SpotShape shape,
                     SpotReduce reduce, double sigma) {
  SpotRings out;
  out.ring_size.assign(S, 0);
  out.ring_scale.resize(S);
  out.coverage.assign(S, 0.0);
  out.norm.assign(S, 0.0);
  std::vector<int32_t> order(S);
  std::iota(order.begin(), order.end(), 0);
  const bool nested = shape != SpotShape::Gaussian;
  if (nested) std::stable_sort(order.begin(), order.end(), [&](int32_t a, int32_t b) { return radii[a] < radii[b]; });

  auto footprint = [&](int32_t s) {
    const double r = radii[s];
    const double sg = sigma * r;
    return Footprint{shape, cy, cx, r, r * r, 2.0 * sg * sg};
  };
  double running_cover = 0;
  for (int64_t k = 0; k < S; ++k) {
    const int32_t s = order[k];
    out.ring_scale[k] = s;
    const Footprint fp = footprint(s);
    const auto ys = fp.rows(0, H - 1);
    int64_t segments = 0;
    double cover = 0;
    auto push = [&](int64_t i, int64_t a, int64_t z) {  // inclusive columns
      if (a > z) return;
      out.row.push_back(static_cast<int32_t>(i));
      out.col0.push_back(static_cast<int32_t>(a));
      out.col1.push_back(static_cast<int32_t>(z + 1));
      ++segments;
      if (shape == SpotShape::Gaussian) {
        const double dy = static_cast<double>(i) - cy;
        for (int64_t j = a; j <= z; ++j) {
          const double dx = static_cast<double>(j) - cx;
          const double w = fp.weight(dy * dy + dx * dx);
          out.weights.push_back(w);
          cover += w;
        }
      } else {
        cover += static_cast<double>(z - a + 1);
      }
    };
    for (int64_t i = ys.first; i <= ys.second; ++i) {
      const auto xs = fp.columns(i, 0, W - 1);
      if (xs.first > xs.second) continue;
      if (nested && k > 0) {
        // Remove the next smaller scale's columns of this row (nested, so at most two pieces).
        const Footprint inner_fp = footprint(order[k - 1]);
        const auto inner = inner_fp.row_in(i) ? inner_fp.columns(i, 0, W - 1) : std::pair<int64_t, int64_t>{0, -1};
        if (inner.first <= inner.second) {
          push(i, xs.first, inner.first - 1);
          push(i, inner.second + 1, xs.second);
          continue;
        }
      }
      push(i, xs.first, xs.second);
    }
    out.ring_size[k] = segments;
    running_cover = nested ? running_cover + cover : cover;
    out.coverage[s] = running_cover;
    double denom = 1.0;
    if (reduce == SpotReduce::Mean) denom = running_cover;
    if (reduce == SpotReduce::Area) denom = fp.area();
    out.norm[s] = denom > 0 ? 1.0 / denom : 0.0;
  }
  return out;
}

}  // namespace

SpotGeometry build_spot_geometry(const at::Tensor& centers, const at::Tensor& radii, int64_t batch, int64_t height,
                                 int64_t width, c10::string_view shape_name, c10::string_view reduce_name,
                                 double sigma) {
  const SpotShape shape = parse_spot_shape(shape_name);
  const SpotReduce reduce = parse_spot_reduce(reduce_name);
  TORCH_CHECK(std::isfinite(sigma) && sigma > 0, "stx spot ops: sigma must be finite and > 0, got ", sigma);
  TORCH_CHECK(centers.dim() == 2 && (centers.size(1) == 2 || centers.size(1) == 3),
              "stx spot ops: centers must be [N, 3] (batch, y, x) or [N, 2] (y, x), got shape ", centers.sizes());
  TORCH_CHECK(at::isFloatingType(centers.scalar_type()), "stx spot ops: centers must be a floating tensor, got ",
              centers.scalar_type());
  TORCH_CHECK(radii.dim() == 1 || radii.dim() == 2,
              "stx spot ops: radii must be [N] or [N, S] (multi-scale), got shape ", radii.sizes());
  TORCH_CHECK(at::isFloatingType(radii.scalar_type()), "stx spot ops: radii must be a floating tensor, got ",
              radii.scalar_type());
  const int64_t N = centers.size(0);
  TORCH_CHECK(radii.size(0) == N, "stx spot ops: radii has ", radii.size(0), " spots but centers has ", N);
  const int64_t S = radii.dim() == 2 ? radii.size(1) : 1;
  TORCH_CHECK(S >= 1, "stx spot ops: radii [N, S] needs S >= 1, got shape ", radii.sizes());
  // No spots allow an empty batch, never a negative one; the bound is the one of height and width.
  TORCH_CHECK((batch >= 1 || (N == 0 && batch == 0)) && batch < std::numeric_limits<int32_t>::max(),
              "stx spot ops: batch size (dense's dim 0, or spot_splat's batch_size) must be in [1, 2^31) (or 0 ",
              "with no spots), got ", batch);
  TORCH_CHECK(height >= 0 && width >= 0 && height < std::numeric_limits<int32_t>::max() &&
                  width < std::numeric_limits<int32_t>::max(),
              "stx spot ops: height and width must be in [0, 2^31), got ", height, " x ", width);

  // Small tensors: copy to host float64 (this also synchronises CUDA inputs, needed for the checks).
  const at::Tensor c = centers.detach().to(at::kCPU, at::kDouble).contiguous();
  const at::Tensor r = radii.detach().to(at::kCPU, at::kDouble).contiguous().view({N, S});
  const double* cp = c.data_ptr<double>();
  const double* rp = r.data_ptr<double>();
  const int64_t cw = centers.size(1);
  // reduce="area" walks the whole footprint, image bounds ignored (O(r) work and, for gaussian,
  // memory per spot): radii are bounded relative to the image so a huge radius cannot hang.
  const double area_limit = max_area_radius(height, width);

  SpotGeometry g;
  g.num_spots = N;
  g.num_scales = S;
  g.batch = batch;
  g.height = height;
  g.width = width;
  g.nested = shape != SpotShape::Gaussian;
  std::vector<int64_t>& spot_batch = g.spot_batch;
  spot_batch.assign(N, 0);
  for (int64_t n = 0; n < N; ++n) {
    const double* row = cp + n * cw;
    if (cw == 3) {
      const double b = row[0];
      TORCH_CHECK(std::isfinite(b) && b == std::floor(b) && b >= 0 && b < static_cast<double>(batch),
                  "stx spot ops: centers[", n, ", 0] (batch index) must be an integer in [0, ", batch, "), got ", b);
      spot_batch[n] = static_cast<int64_t>(b);
    }
    TORCH_CHECK(std::isfinite(row[cw - 2]) && std::isfinite(row[cw - 1]), "stx spot ops: centers[", n,
                "] must be finite, got (y, x) = (", row[cw - 2], ", ", row[cw - 1], ")");
    for (int64_t s = 0; s < S; ++s) {
      const double v = rp[n * S + s];
      TORCH_CHECK(std::isfinite(v) && v >= 0, "stx spot ops: radii must be finite and >= 0, got ", v, " for spot ",
                  n, (S > 1 ? " scale " + std::to_string(s) : std::string()));
      TORCH_CHECK(reduce != SpotReduce::Area || v <= area_limit, "stx spot ops: with reduce=\"area\" radii must be <= ",
                  area_limit, " (4 x max(height, width, 256)), got ", v, " for spot ", n,
                  (S > 1 ? " scale " + std::to_string(s) : std::string()));
    }
  }

  std::vector<SpotRings> spots(N);
  at::parallel_for(0, N, 64, [&](int64_t begin, int64_t end) {
    for (int64_t n = begin; n < end; ++n) {
      spots[n] = build_spot(cp[n * cw + cw - 2], cp[n * cw + cw - 1], rp + n * S, S, height, width, shape, reduce,
                            sigma);
    }
  });

  // Concatenate (serial; the geometry is small next to the map).
  g.ring_begin.assign(N * S + 1, 0);
  g.ring_scale.resize(N * S);
  g.norm.resize(N * S);
  g.coverage.resize(N * S);
  int64_t total_segments = 0, total_weights = 0;
  for (int64_t n = 0; n < N; ++n) {
    total_segments += static_cast<int64_t>(spots[n].row.size());
    total_weights += static_cast<int64_t>(spots[n].weights.size());
  }
  g.seg_row.reserve(total_segments);
  g.seg_col0.reserve(total_segments);
  g.seg_col1.reserve(total_segments);
  if (shape == SpotShape::Gaussian) {
    g.seg_weight.reserve(total_segments);
    g.weights.reserve(total_weights);
  }
  for (int64_t n = 0; n < N; ++n) {
    SpotRings& sp = spots[n];
    for (int64_t k = 0; k < S; ++k) {
      g.ring_begin[n * S + k + 1] = g.ring_begin[n * S + k] + sp.ring_size[k];
      g.ring_scale[n * S + k] = sp.ring_scale[k];
      g.norm[n * S + k] = sp.norm[k];
      g.coverage[n * S + k] = sp.coverage[k];
    }
    int64_t w = static_cast<int64_t>(g.weights.size());
    for (size_t t = 0; t < sp.row.size(); ++t) {
      g.seg_row.push_back(sp.row[t]);
      g.seg_col0.push_back(sp.col0[t]);
      g.seg_col1.push_back(sp.col1[t]);
      if (shape == SpotShape::Gaussian) {
        g.seg_weight.push_back(w);
        w += sp.col1[t] - sp.col0[t];
      }
    }
    g.weights.insert(g.weights.end(), sp.weights.begin(), sp.weights.end());
    sp = SpotRings();  // free as we go
  }

  // Spots grouped by batch image (stable counting sort) for the splat kernels.
  g.batch_begin.assign(batch + 1, 0);
  for (int64_t n = 0; n < N; ++n) ++g.batch_begin[spot_batch[n] + 1];
  for (int64_t b = 0; b < batch; ++b) g.batch_begin[b + 1] += g.batch_begin[b];
  g.batch_spots.resize(N);
  std::vector<int64_t> fill(g.batch_begin.begin(), g.batch_begin.end() - 1);
  for (int64_t n = 0; n < N; ++n) g.batch_spots[fill[spot_batch[n]]++] = n;
  return g;
}

}  // namespace stx::ops::detail

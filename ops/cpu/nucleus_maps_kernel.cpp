// CPU kernels of the nucleus-map family: HoVer-Net-style horizontal/vertical distance targets of an
// instance map, and instances from predicted maps by marker-controlled watershed.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <functional>
#include <queue>
#include <tuple>
#include <vector>

#include <ATen/ATen.h>
#include <torch/library.h>

#include <stx/ops/nucleus_maps.h>

#include "ops/cpu/instance_maps.h"

namespace stx::ops::instance {
namespace {

at::Tensor hv_maps_cpu(const at::Tensor& instances) {
  check_instance_map("hv_maps", "instances", instances);
  const DenseMap m = densify("hv_maps", "instances", instances);
  const int64_t H = instances.size(0), W = instances.size(1);
  const auto n = static_cast<size_t>(m.count() + 1);
  std::vector<double> cx(n, 0.0), cy(n, 0.0);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int32_t i = m.index[y * W + x];
      cx[i] += static_cast<double>(x);
      cy[i] += static_cast<double>(y);
    }
  }
  for (size_t i = 1; i < n; ++i) {
    cx[i] /= static_cast<double>(m.area[i]);
    cy[i] /= static_cast<double>(m.area[i]);
  }
  // Per nucleus and side, the largest offset: negative offsets scale to [-1, 0), positive to (0, 1].
  std::vector<double> hmin(n, 0.0), hmax(n, 0.0), vmin(n, 0.0), vmax(n, 0.0);
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int32_t i = m.index[y * W + x];
      const double dx = static_cast<double>(x) - cx[i], dy = static_cast<double>(y) - cy[i];
      hmin[i] = std::min(hmin[i], dx);
      hmax[i] = std::max(hmax[i], dx);
      vmin[i] = std::min(vmin[i], dy);
      vmax[i] = std::max(vmax[i], dy);
    }
  }
  const auto scale = [](double d, double lo, double hi) {
    if (d < 0) return d / -lo;
    return d > 0 ? d / hi : 0.0;
  };
  at::Tensor out = at::zeros({2, H, W}, at::kFloat);
  float* h = out.mutable_data_ptr<float>();
  float* v = h + H * W;
  for (int64_t y = 0; y < H; ++y) {
    for (int64_t x = 0; x < W; ++x) {
      const int32_t i = m.index[y * W + x];
      if (i == 0) continue;
      h[y * W + x] = static_cast<float>(scale(static_cast<double>(x) - cx[i], hmin[i], hmax[i]));
      v[y * W + x] = static_cast<float>(scale(static_cast<double>(y) - cy[i], vmin[i], vmax[i]));
    }
  }
  return out;
}

// One channel read as float with a replicated border.
struct Plane {
  const float* data;
  int64_t H, W;
  float at(int64_t y, int64_t x) const {
    return data[std::clamp<int64_t>(y, 0, H - 1) * W + std::clamp<int64_t>(x, 0, W - 1)];
  }
};

// 3x3 Sobel derivative along x (dy = 0) or y (dy = 1), min-max normalised to [0, 1] over the image
// (0 everywhere for a flat channel).
std::vector<float> normalised_sobel(const Plane& f, bool along_y) {
  std::vector<float> s(static_cast<size_t>(f.H * f.W));
  for (int64_t y = 0; y < f.H; ++y) {
    for (int64_t x = 0; x < f.W; ++x) {
      s[y * f.W + x] = along_y ? (f.at(y + 1, x - 1) + 2 * f.at(y + 1, x) + f.at(y + 1, x + 1)) -
                                     (f.at(y - 1, x - 1) + 2 * f.at(y - 1, x) + f.at(y - 1, x + 1))
                               : (f.at(y - 1, x + 1) + 2 * f.at(y, x + 1) + f.at(y + 1, x + 1)) -
                                     (f.at(y - 1, x - 1) + 2 * f.at(y, x - 1) + f.at(y + 1, x - 1));
    }
  }
  const auto [lo, hi] = std::minmax_element(s.begin(), s.end());
  const float min = *lo, range = *hi - *lo;
  for (float& value : s) value = range > 0 ? (value - min) / range : 0.0f;
  return s;
}

// Labels the 8-connected regions of `mask` that are still 0 in `labels`, from `next` on; returns the
// next unused label.
int64_t label_regions(const std::vector<char>& mask, int64_t H, int64_t W, std::vector<int64_t>& labels,
                      int64_t next) {
  std::vector<int64_t> stack;
  for (int64_t start = 0; start < H * W; ++start) {
    if (!mask[start] || labels[start] != 0) continue;
    labels[start] = next;
    stack.push_back(start);
    while (!stack.empty()) {
      const int64_t p = stack.back();
      stack.pop_back();
      const int64_t y = p / W, x = p % W;
      for (int64_t dy = -1; dy <= 1; ++dy) {
        for (int64_t dx = -1; dx <= 1; ++dx) {
          const int64_t ny = y + dy, nx = x + dx;
          if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
          const int64_t q = ny * W + nx;
          if (mask[q] && labels[q] == 0) {
            labels[q] = next;
            stack.push_back(q);
          }
        }
      }
    }
    ++next;
  }
  return next;
}

// Sets labels with fewer than min_size pixels to 0.
void drop_small(std::vector<int64_t>& labels, int64_t count, int64_t min_size) {
  std::vector<int64_t> size(static_cast<size_t>(count), 0);
  for (int64_t l : labels) ++size[l];
  for (int64_t& l : labels) {
    if (l != 0 && size[l] < min_size) l = 0;
  }
}

void check_plane(const char* name, const at::Tensor& t) {
  TORCH_CHECK(t.device().is_cpu(), "hv_instances: ", name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), "hv_instances: ", name, " must be floating point, got ",
              t.scalar_type());
  TORCH_CHECK(at::isfinite(t).all().item<bool>(), "hv_instances: ", name, " holds NaN or infinite values");
}

at::Tensor hv_instances_cpu(const at::Tensor& nuclear_prob, const at::Tensor& hv, double threshold,
                            double edge_threshold, int64_t min_size) {
  TORCH_CHECK(nuclear_prob.dim() == 2, "hv_instances: nuclear_prob must be a 2-D [H, W] map, got ",
              nuclear_prob.dim(), "-D");
  const int64_t H = nuclear_prob.size(0), W = nuclear_prob.size(1);
  TORCH_CHECK(hv.dim() == 3 && hv.size(0) == 2 && hv.size(1) == H && hv.size(2) == W,
              "hv_instances: hv must be [2, H, W] = [2, ", H, ", ", W, "] like nuclear_prob, got ", hv.sizes());
  check_plane("nuclear_prob", nuclear_prob);
  check_plane("hv", hv);
  TORCH_CHECK(threshold > 0.0 && threshold <= 1.0, "hv_instances: threshold must be in (0, 1], got ", threshold);
  TORCH_CHECK(edge_threshold > 0.0 && edge_threshold <= 1.0, "hv_instances: edge_threshold must be in (0, 1], got ",
              edge_threshold);
  TORCH_CHECK(min_size >= 1, "hv_instances: min_size must be >= 1, got ", min_size);

  const at::Tensor prob = nuclear_prob.to(at::kFloat).contiguous();
  const at::Tensor maps = hv.to(at::kFloat).contiguous();
  const float* pp = prob.const_data_ptr<float>();
  const int64_t P = H * W;
  if (P == 0) return at::zeros({H, W}, at::kLong);
  std::vector<char> foreground(static_cast<size_t>(P));
  for (int64_t i = 0; i < P; ++i) foreground[i] = pp[i] >= threshold;

  // Energy: high where h falls along x or v along y (the border between two touching nuclei).
  const auto sh = normalised_sobel({maps.const_data_ptr<float>(), H, W}, /*along_y=*/false);
  const auto sv = normalised_sobel({maps.const_data_ptr<float>() + P, H, W}, /*along_y=*/true);
  std::vector<float> energy(static_cast<size_t>(P));
  std::vector<char> marker(static_cast<size_t>(P));
  for (int64_t i = 0; i < P; ++i) {
    energy[i] = std::max(1.0f - sh[i], 1.0f - sv[i]);
    marker[i] = foreground[i] && energy[i] < edge_threshold;
  }
  std::vector<int64_t> labels(static_cast<size_t>(P), 0);
  int64_t count = label_regions(marker, H, W, labels, 1);
  drop_small(labels, count, min_size);

  // Flood the foreground from the markers in increasing energy (ties: first queued first).
  using Item = std::tuple<float, int64_t, int64_t>;  // energy, queue order, pixel
  std::priority_queue<Item, std::vector<Item>, std::greater<Item>> queue;
  int64_t order = 0;
  for (int64_t i = 0; i < P; ++i) {
    if (labels[i] != 0) queue.emplace(energy[i], order++, i);
  }
  constexpr std::array<std::array<int64_t, 2>, 4> kNeighbours = {{{-1, 0}, {1, 0}, {0, -1}, {0, 1}}};
  while (!queue.empty()) {
    const int64_t p = std::get<2>(queue.top());
    queue.pop();
    const int64_t y = p / W, x = p % W;
    for (const auto& [dy, dx] : kNeighbours) {
      const int64_t ny = y + dy, nx = x + dx;
      if (ny < 0 || ny >= H || nx < 0 || nx >= W) continue;
      const int64_t q = ny * W + nx;
      if (foreground[q] && labels[q] == 0) {
        labels[q] = labels[p];
        queue.emplace(energy[q], order++, q);
      }
    }
  }
  count = label_regions(foreground, H, W, labels, count);  // foreground no marker reached
  drop_small(labels, count, min_size);

  // Ids 1..n in raster order of each nucleus' first pixel.
  std::vector<int64_t> renumber(static_cast<size_t>(count), 0);
  int64_t next = 1;
  at::Tensor out = at::empty({H, W}, at::kLong);
  int64_t* o = out.mutable_data_ptr<int64_t>();
  for (int64_t i = 0; i < P; ++i) {
    const int64_t l = labels[i];
    if (l != 0 && renumber[l] == 0) renumber[l] = next++;
    o[i] = l == 0 ? 0 : renumber[l];
  }
  return out;
}

}  // namespace
}  // namespace stx::ops::instance

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("hv_maps", &stx::ops::instance::hv_maps_cpu);
  m.impl("hv_instances", &stx::ops::instance::hv_instances_cpu);
}

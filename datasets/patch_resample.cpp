// Triangle filter with support max(step, 1): bilinear when enlarging, an area-like average
// when reducing (no aliasing from skipped pixels).
#include "datasets/patch_resample.h"

#include <algorithm>
#include <cmath>

namespace stx::data::detail {

std::vector<Taps> triangle_taps(double start, double step, int64_t out, int64_t src_len) {
  const double support = std::max(step, 1.0);
  std::vector<Taps> taps(static_cast<size_t>(out));
  for (int64_t j = 0; j < out; ++j) {
    const double centre = start + (static_cast<double>(j) + 0.5) * step;
    const int64_t lo = static_cast<int64_t>(std::floor(centre - support));
    const int64_t hi = static_cast<int64_t>(std::ceil(centre + support));
    Taps& t = taps[static_cast<size_t>(j)];
    t.first = std::clamp<int64_t>(lo, 0, src_len - 1);
    const int64_t last = std::clamp<int64_t>(hi, 0, src_len - 1);
    t.weights.assign(static_cast<size_t>(last - t.first + 1), 0.f);
    double total = 0;
    for (int64_t i = lo; i <= hi; ++i) {
      const double w = std::max(0.0, 1.0 - std::abs(static_cast<double>(i) + 0.5 - centre) / support);
      const int64_t k = std::clamp<int64_t>(i, 0, src_len - 1) - t.first;
      t.weights[static_cast<size_t>(k)] += static_cast<float>(w);
      total += w;
    }
    for (float& w : t.weights) w = static_cast<float>(w / total);
  }
  return taps;
}

void resample_hwc_to_chw(const uint8_t* src, int64_t src_h, int64_t src_w, const std::vector<Taps>& ty,
                         const std::vector<Taps>& tx, uint8_t* dst, std::vector<float>& scratch) {
  const int64_t out_h = static_cast<int64_t>(ty.size()), out_w = static_cast<int64_t>(tx.size());
  // Horizontal pass over the source rows the vertical taps touch: scratch [src_h, out_w, 3].
  const int64_t row0 = ty.front().first;
  const int64_t row1 = std::min<int64_t>(src_h, ty.back().first + static_cast<int64_t>(ty.back().weights.size()));
  scratch.resize(static_cast<size_t>(src_h * out_w * 3));
  for (int64_t r = row0; r < row1; ++r) {
    const uint8_t* s = src + r * src_w * 3;
    float* d = scratch.data() + r * out_w * 3;
    for (int64_t j = 0; j < out_w; ++j) {
      const Taps& t = tx[static_cast<size_t>(j)];
      float a0 = 0, a1 = 0, a2 = 0;
      const uint8_t* p = s + t.first * 3;
      for (size_t k = 0; k < t.weights.size(); ++k, p += 3) {
        const float w = t.weights[k];
        a0 += w * p[0];
        a1 += w * p[1];
        a2 += w * p[2];
      }
      d[j * 3 + 0] = a0;
      d[j * 3 + 1] = a1;
      d[j * 3 + 2] = a2;
    }
  }
  const int64_t plane = out_h * out_w;
  for (int64_t i = 0; i < out_h; ++i) {
    const Taps& t = ty[static_cast<size_t>(i)];
    for (int64_t j = 0; j < out_w; ++j) {
      float a0 = 0, a1 = 0, a2 = 0;
      const float* p = scratch.data() + (t.first * out_w + j) * 3;
      for (size_t k = 0; k < t.weights.size(); ++k, p += out_w * 3) {
        const float w = t.weights[k];
        a0 += w * p[0];
        a1 += w * p[1];
        a2 += w * p[2];
      }
      const auto to_u8 = [](float v) { return static_cast<uint8_t>(std::clamp(v + 0.5f, 0.f, 255.f)); };
      dst[i * out_w + j] = to_u8(a0);
      dst[plane + i * out_w + j] = to_u8(a1);
      dst[2 * plane + i * out_w + j] = to_u8(a2);
    }
  }
}

}  // namespace stx::data::detail

#pragma once
// Internal: separable antialiased (triangle-filter) resampling of one uint8 RGB patch.
#include <cstdint>
#include <vector>

namespace stx::data::detail {

// Taps of one output pixel along one axis: source index `first` and normalised weights.
struct Taps {
  int64_t first = 0;
  std::vector<float> weights;
};

// Output pixel j (0..out-1) covers source coordinates [start + j*step, start + (j+1)*step);
// `src_len` source pixels exist. Indices outside are clamped (the caller reads a margin).
std::vector<Taps> triangle_taps(double start, double step, int64_t out, int64_t src_len);

// src: uint8 [src_h, src_w, 3]; dst: uint8 [3, out_h, out_w] (CHW). `scratch` is reused.
void resample_hwc_to_chw(const uint8_t* src, int64_t src_h, int64_t src_w, const std::vector<Taps>& ty,
                         const std::vector<Taps>& tx, uint8_t* dst, std::vector<float>& scratch);

}  // namespace stx::data::detail

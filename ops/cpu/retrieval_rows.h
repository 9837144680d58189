#pragma once
// Shared by the CPU cosine_topk paths (plain float GEMM and int8-screened): the tiling, squared
// row norms with the finiteness check, and row normalisation.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/retrieval_common.h"

namespace stx::ops::retrieval {

// Tile sizes: the [query tile x bank tile] score block is the only O(tile) buffer (16 MiB in
// float32 / int32), so peak extra memory stays O(Q*k + tile) whatever N is.
constexpr int64_t kBankTile = 4096;
constexpr int64_t kQueryTile = 1024;
constexpr int64_t kScanBlock = 16;  // candidates tested against the threshold at once

// Squared row norms of a contiguous [n, d] block plus the finiteness check (x - x is NaN exactly
// when x is Inf or NaN, so one extra subtraction per element catches both). Eight independent
// lanes let the compiler vectorise the reduction.
template <typename T>
inline void row_sq_norms(const T* x, int64_t n, int64_t d, T* sq, const char* name, int64_t row0) {
  constexpr int64_t kLanes = 8;
  at::parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* p = x + r * d;
      T s[kLanes] = {}, bad[kLanes] = {};
      int64_t j = 0;
      for (; j + kLanes <= d; j += kLanes) {
        for (int64_t l = 0; l < kLanes; ++l) {
          s[l] += p[j + l] * p[j + l];
          bad[l] += p[j + l] - p[j + l];
        }
      }
      for (; j < d; ++j) {
        s[0] += p[j] * p[j];
        bad[0] += p[j] - p[j];
      }
      T total = 0, total_bad = 0;
      for (int64_t l = 0; l < kLanes; ++l) {
        total += s[l];
        total_bad += bad[l];
      }
      TORCH_CHECK(total_bad == 0, "cosine_topk: ", name, " row ", row0 + r,
                  " contains NaN or Inf (non-finite inputs are rejected)");
      sq[r] = total;
    }
  });
}

// dst[r] = src[r] / max(||src[r]||, eps) (as a multiplication by the reciprocal); dst may alias src.
template <typename T>
inline void normalize_rows(const T* src, T* dst, int64_t n, int64_t d, const T* sq) {
  at::parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T inv = T(1) / std::max(std::sqrt(sq[r]), static_cast<T>(kNormEps));
      for (int64_t j = 0; j < d; ++j) dst[r * d + j] = src[r * d + j] * inv;
    }
  });
}

}  // namespace stx::ops::retrieval

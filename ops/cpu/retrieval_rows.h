#pragma once
// Shared by the CPU cosine_topk paths (plain float GEMM and int8-screened): the tiling, squared
// row norms with the finiteness check and row normalisation.
#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <cstdint>

#include "ops/cpu/vector_kernels.h"
#include "ops/retrieval_common.h"

namespace stx::ops::retrieval {

// Tile sizes: the [query tile x bank tile] score block is the only O(tile) buffer (16 MiB in
// float32 / int32), so peak extra memory stays O(Q*k + tile) whatever N is.
constexpr int64_t kBankTile = 4096;
constexpr int64_t kQueryTile = 1024;

// Squared row norms of a contiguous [n, d] block, with the finiteness check, and (when `unit` is
// not null) the rows scaled to unit norm, x / max(||x||, eps), written while the row is in L1
// (`unit` may alias `x`). A NaN or Inf element makes the sum non-finite, so only such rows are
// scanned again to tell NaN/Inf inputs (rejected) from a finite row whose squared norm overflows T
// (also rejected: its cosine would be garbage).
template <typename T>
inline void row_sq_norms(const T* x, int64_t n, int64_t d, T* sq, const char* name, int64_t row0, T* unit = nullptr) {
  at::parallel_for(0, n, 64, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const T* p = x + r * d;
      const T total = cpu::sum_squares(p, d);
      if (!std::isfinite(total)) {
        const bool finite = std::all_of(p, p + d, [](T v) { return std::isfinite(v); });
        TORCH_CHECK(!finite, "cosine_topk: ", name, " row ", row0 + r, " has a squared norm that overflows ",
                    sizeof(T) == 4 ? "float32" : "float64", "; rescale the inputs");
        TORCH_CHECK(false, "cosine_topk: ", name, " row ", row0 + r,
                    " contains NaN or Inf (non-finite inputs are rejected)");
      }
      sq[r] = total;
      if (unit != nullptr) cpu::scale_row(p, unit + r * d, d, T(1) / std::max(std::sqrt(total), static_cast<T>(kNormEps)));
    }
  });
}

}  // namespace stx::ops::retrieval

#pragma once
// Per-column Pearson statistics of two contiguous [N, G] blocks (reduction over rows), shared by
// pearson_loss and the pearson_per_gene metric. Two passes (means, then centred sums) in double,
// streaming rows with a block of column accumulators so the inner loop is contiguous. A constant
// column is centred on its value itself, not on sum/n: the rounded mean of e.g. three 0.1s is not
// 0.1, and centring on it would give a tiny non-zero variance (r = +-1e-17 instead of NaN).
#include <algorithm>
#include <vector>

#include <ATen/Parallel.h>

namespace stx::ops::losses {

// Below this many elements per chunk a loop runs on the calling thread.
constexpr int64_t kSerialElements = 32768;

struct PearsonStats {
  std::vector<double> mx, my, sxx, syy, sxy;
};

template <typename T>
PearsonStats pearson_stats(const T* x, const T* y, int64_t n, int64_t g) {
  constexpr int64_t kBlock = 64;
  PearsonStats st{std::vector<double>(g), std::vector<double>(g), std::vector<double>(g), std::vector<double>(g),
                  std::vector<double>(g)};
  // Small problems run inline: a parallel region costs more than a few thousand elements.
  const int64_t grain = std::max<int64_t>(kBlock, kSerialElements / std::max<int64_t>(n, 1));
  at::parallel_for(0, g, grain, [&](int64_t g0, int64_t g1) {
    for (int64_t cb = g0; cb < g1; cb += kBlock) {
      const int64_t w = std::min(kBlock, g1 - cb);
      double ax[kBlock] = {}, ay[kBlock] = {};
      bool x_const[kBlock], y_const[kBlock];
      std::fill(x_const, x_const + w, true);
      std::fill(y_const, y_const + w, true);
      const T* x0 = x + cb;
      const T* y0 = y + cb;
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = x + i * g + cb;
        const T* yr = y + i * g + cb;
        for (int64_t c = 0; c < w; ++c) {
          ax[c] += static_cast<double>(xr[c]);
          ay[c] += static_cast<double>(yr[c]);
          x_const[c] &= static_cast<double>(xr[c]) == static_cast<double>(x0[c]);
          y_const[c] &= static_cast<double>(yr[c]) == static_cast<double>(y0[c]);
        }
      }
      for (int64_t c = 0; c < w; ++c) {
        ax[c] = x_const[c] ? static_cast<double>(x0[c]) : ax[c] / static_cast<double>(n);
        ay[c] = y_const[c] ? static_cast<double>(y0[c]) : ay[c] / static_cast<double>(n);
      }
      double axx[kBlock] = {}, ayy[kBlock] = {}, axy[kBlock] = {};
      for (int64_t i = 0; i < n; ++i) {
        const T* xr = x + i * g + cb;
        const T* yr = y + i * g + cb;
        for (int64_t c = 0; c < w; ++c) {
          const double dx = static_cast<double>(xr[c]) - ax[c];
          const double dy = static_cast<double>(yr[c]) - ay[c];
          axx[c] += dx * dx;
          ayy[c] += dy * dy;
          axy[c] += dx * dy;
        }
      }
      for (int64_t c = 0; c < w; ++c) {
        st.mx[cb + c] = ax[c];
        st.my[cb + c] = ay[c];
        st.sxx[cb + c] = axx[c];
        st.syy[cb + c] = ayy[c];
        st.sxy[cb + c] = axy[c];
      }
    }
  });
  return st;
}

}  // namespace stx::ops::losses

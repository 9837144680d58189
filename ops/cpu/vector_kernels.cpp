// Multi-versioned row kernels (see vector_kernels.h). The explicit lanes of the reductions are
// independent accumulators, so every version vectorises them as plain vertical adds.
#include "ops/cpu/vector_kernels.h"

#include "ops/cpu/multiversion.h"

namespace stx::ops::cpu {
namespace {

template <typename T, int64_t kLanes>
inline T dot_impl(const T* a, const T* b, int64_t d) {
  T s[kLanes] = {};
  int64_t j = 0;
  for (; j + kLanes <= d; j += kLanes) {
    for (int64_t l = 0; l < kLanes; ++l) s[l] += a[j + l] * b[j + l];
  }
  for (; j < d; ++j) s[0] += a[j] * b[j];
  T total = 0;
  for (int64_t l = 0; l < kLanes; ++l) total += s[l];
  return total;
}

template <typename T>
inline void max_into_impl(const T* x, int64_t rows, int64_t m, T* __restrict__ mx) {
  for (int64_t c = 0; c < rows; ++c) {
    const T* r = x + c * m;
    for (int64_t g = 0; g < m; ++g) mx[g] = r[g] > mx[g] ? r[g] : mx[g];
  }
}

// Walks to a 16-column boundary, then tests aligned blocks of 16 at once (vectorised, no branch per
// element) and only then finds the column.
template <typename T>
inline int64_t next_candidate_impl(const T* x, int64_t from, int64_t n, T above) {
  constexpr int64_t kBlock = 16;
  auto hit = [&](T v) { return v > above; };
  int64_t j = from;
  for (; j < n && (j % kBlock) != 0; ++j) {
    if (hit(x[j])) return j;
  }
  for (; j + kBlock <= n; j += kBlock) {
    bool any = false;
    for (int64_t t = 0; t < kBlock; ++t) any |= hit(x[j + t]);
    if (any) break;
  }
  for (; j < n; ++j) {
    if (hit(x[j])) return j;
  }
  return n;
}

// Four rows per pass over y, so y is loaded and stored once per four rows (a plain inner loop over
// the columns, which every version vectorises).
template <typename T>
inline void weighted_row_sum_impl(const T* const* rows, const T* w, int64_t m, int64_t d, T* __restrict__ y) {
  int64_t r = 0;
  for (int64_t j = 0; j < d; ++j) y[j] = 0;
  for (; r + 4 <= m; r += 4) {
    const T *__restrict__ x0 = rows[r], *__restrict__ x1 = rows[r + 1], *__restrict__ x2 = rows[r + 2],
                          *__restrict__ x3 = rows[r + 3];
    const T a0 = w[r], a1 = w[r + 1], a2 = w[r + 2], a3 = w[r + 3];
    for (int64_t j = 0; j < d; ++j) y[j] += a0 * x0[j] + a1 * x1[j] + a2 * x2[j] + a3 * x3[j];
  }
  for (; r < m; ++r) {
    const T* __restrict__ x = rows[r];
    const T a = w[r];
    for (int64_t j = 0; j < d; ++j) y[j] += a * x[j];
  }
}

template <typename T>
inline int64_t collect_at_least_impl(const T* x, int64_t n, T at_least, int32_t* __restrict__ out) {
  int64_t c = 0;
  for (int64_t j = 0; j < n; ++j) {
    out[c] = static_cast<int32_t>(j);
    c += x[j] >= at_least;
  }
  return c;
}

template <typename T>
inline int64_t count_at_least_impl(const T* x, int64_t n, T t) {
  int64_t c = 0;
  for (int64_t j = 0; j < n; ++j) c += x[j] >= t;
  return c;
}

}  // namespace

// Counts for a block of 32 keys at once: each key[j] is compared against the whole block, so the
// counters stay in vector lanes with no horizontal sum per key.
STX_MULTIVERSION void rank_keys(const uint64_t* key, int64_t n, int32_t* rank) {
  constexpr int64_t kBlock = 32;
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    uint64_t ki[kBlock];
    uint64_t count[kBlock] = {};
    const int64_t m = n - i0 < kBlock ? n - i0 : kBlock;
    for (int64_t l = 0; l < kBlock; ++l) ki[l] = l < m ? key[i0 + l] : 0;
    for (int64_t j = 0; j < n; ++j) {
      const uint64_t kj = key[j];
      for (int64_t l = 0; l < kBlock; ++l) count[l] += kj < ki[l];
    }
    for (int64_t l = 0; l < m; ++l) rank[i0 + l] = static_cast<int32_t>(count[l]);
  }
}

STX_MULTIVERSION void weighted_row_sum(const float* const* rows, const float* w, int64_t m, int64_t d, float* y) {
  weighted_row_sum_impl(rows, w, m, d, y);
}
STX_MULTIVERSION void weighted_row_sum(const double* const* rows, const double* w, int64_t m, int64_t d, double* y) {
  weighted_row_sum_impl(rows, w, m, d, y);
}

STX_MULTIVERSION int64_t collect_at_least(const float* x, int64_t n, float at_least, int32_t* out) {
  return collect_at_least_impl(x, n, at_least, out);
}
STX_MULTIVERSION int64_t collect_at_least(const double* x, int64_t n, double at_least, int32_t* out) {
  return collect_at_least_impl(x, n, at_least, out);
}
STX_MULTIVERSION int64_t count_at_least(const float* x, int64_t n, float t) { return count_at_least_impl(x, n, t); }
STX_MULTIVERSION int64_t count_at_least(const double* x, int64_t n, double t) { return count_at_least_impl(x, n, t); }

STX_MULTIVERSION void max_into(const float* x, int64_t rows, int64_t m, float* mx) { max_into_impl(x, rows, m, mx); }
STX_MULTIVERSION void max_into(const double* x, int64_t rows, int64_t m, double* mx) {
  max_into_impl(x, rows, m, mx);
}
STX_MULTIVERSION int64_t next_candidate(const float* x, int64_t from, int64_t n, float above) {
  return next_candidate_impl(x, from, n, above);
}
STX_MULTIVERSION int64_t next_candidate(const double* x, int64_t from, int64_t n, double above) {
  return next_candidate_impl(x, from, n, above);
}
STX_MULTIVERSION int64_t next_candidate(const int32_t* x, int64_t from, int64_t n, int32_t above) {
  return next_candidate_impl(x, from, n, above);
}

STX_MULTIVERSION float sum_squares(const float* p, int64_t d) { return dot_impl<float, 16>(p, p, d); }
STX_MULTIVERSION double sum_squares(const double* p, int64_t d) { return dot_impl<double, 8>(p, p, d); }
STX_MULTIVERSION float dot(const float* a, const float* b, int64_t d) { return dot_impl<float, 16>(a, b, d); }
STX_MULTIVERSION double dot(const double* a, const double* b, int64_t d) { return dot_impl<double, 8>(a, b, d); }

STX_MULTIVERSION void scale_row(const float* src, float* dst, int64_t d, float s) {
  for (int64_t j = 0; j < d; ++j) dst[j] = src[j] * s;
}
STX_MULTIVERSION void scale_row(const double* src, double* dst, int64_t d, double s) {
  for (int64_t j = 0; j < d; ++j) dst[j] = src[j] * s;
}

STX_MULTIVERSION void axpy(float a, const float* __restrict__ x, float* __restrict__ y, int64_t d) {
  for (int64_t j = 0; j < d; ++j) y[j] += a * x[j];
}
STX_MULTIVERSION void axpy(double a, const double* __restrict__ x, double* __restrict__ y, int64_t d) {
  for (int64_t j = 0; j < d; ++j) y[j] += a * x[j];
}

STX_MULTIVERSION void gather(const float* base, const int32_t* offset, int64_t n, float* __restrict__ out) {
  for (int64_t i = 0; i < n; ++i) out[i] = base[offset[i]];
}
STX_MULTIVERSION void gather(const double* base, const int32_t* offset, int64_t n, double* __restrict__ out) {
  for (int64_t i = 0; i < n; ++i) out[i] = base[offset[i]];
}

}  // namespace stx::ops::cpu

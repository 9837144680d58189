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

}  // namespace

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

}  // namespace stx::ops::cpu

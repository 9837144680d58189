// Multi-versioned row kernels (see vector_kernels.h): each is compiled for AVX-512, AVX2 and
// baseline x86-64 from vector_kernels_body.inc, and the public function calls the version of the
// active instruction set (ops/cpu/multiversion.h).
#include "ops/cpu/vector_kernels.h"

#include <algorithm>
#include <cmath>

#include "ops/cpu/multiversion.h"

// No multiply-add contraction: the AVX-512 target has FMA instructions and the others do not, so a
// contracted a * b + c would round differently per level. Every level must give the same bits.
#if defined(__clang__)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace stx::ops::cpu {
namespace {

namespace avx512 {
#define STX_TARGET STX_TARGET_AVX512
#include "ops/cpu/vector_kernels_body.inc"
#undef STX_TARGET
}  // namespace avx512

namespace avx2 {
#define STX_TARGET STX_TARGET_AVX2
#include "ops/cpu/vector_kernels_body.inc"
#undef STX_TARGET
}  // namespace avx2

namespace baseline {
#define STX_TARGET
#include "ops/cpu/vector_kernels_body.inc"
#undef STX_TARGET
}  // namespace baseline

}  // namespace

void rank_keys(const uint64_t* key, int64_t n, int32_t* rank) { STX_DISPATCH(rank_keys, key, n, rank); }
void weighted_row_sum(const float* const* rows, const float* w, int64_t m, int64_t d, float* y) {
  STX_DISPATCH(weighted_row_sum, rows, w, m, d, y);
}
void weighted_row_sum(const double* const* rows, const double* w, int64_t m, int64_t d, double* y) {
  STX_DISPATCH(weighted_row_sum, rows, w, m, d, y);
}
int64_t collect_at_least(const float* x, int64_t n, float at_least, int32_t* out) {
  STX_DISPATCH(collect_at_least, x, n, at_least, out);
}
int64_t collect_at_least(const double* x, int64_t n, double at_least, int32_t* out) {
  STX_DISPATCH(collect_at_least, x, n, at_least, out);
}
int64_t count_at_least(const float* x, int64_t n, float t) { STX_DISPATCH(count_at_least, x, n, t); }
int64_t count_at_least(const double* x, int64_t n, double t) { STX_DISPATCH(count_at_least, x, n, t); }
void max_into(const float* x, int64_t rows, int64_t m, float* mx) { STX_DISPATCH(max_into, x, rows, m, mx); }
void max_into(const double* x, int64_t rows, int64_t m, double* mx) { STX_DISPATCH(max_into, x, rows, m, mx); }
int64_t next_candidate(const float* x, int64_t from, int64_t n, float above) {
  STX_DISPATCH(next_candidate, x, from, n, above);
}
int64_t next_candidate(const double* x, int64_t from, int64_t n, double above) {
  STX_DISPATCH(next_candidate, x, from, n, above);
}
int64_t next_candidate(const int32_t* x, int64_t from, int64_t n, int32_t above) {
  STX_DISPATCH(next_candidate, x, from, n, above);
}
float sum_squares(const float* p, int64_t d) { STX_DISPATCH(sum_squares, p, d); }
double sum_squares(const double* p, int64_t d) { STX_DISPATCH(sum_squares, p, d); }
float dot(const float* a, const float* b, int64_t d) { STX_DISPATCH(dot, a, b, d); }
double dot(const double* a, const double* b, int64_t d) { STX_DISPATCH(dot, a, b, d); }
void scale_row(const float* src, float* dst, int64_t d, float s) { STX_DISPATCH(scale_row, src, dst, d, s); }
void scale_row(const double* src, double* dst, int64_t d, double s) { STX_DISPATCH(scale_row, src, dst, d, s); }
void axpy(float a, const float* x, float* y, int64_t d) { STX_DISPATCH(axpy, a, x, y, d); }
void axpy(double a, const double* x, double* y, int64_t d) { STX_DISPATCH(axpy, a, x, y, d); }
void gather(const float* base, const int32_t* offset, int64_t n, float* out) {
  STX_DISPATCH(gather, base, offset, n, out);
}
void gather(const double* base, const int32_t* offset, int64_t n, double* out) {
  STX_DISPATCH(gather, base, offset, n, out);
}
float abs_max(const float* p, int64_t d) { STX_DISPATCH(abs_max, p, d); }
int32_t quantise_row(const float* p, int64_t d, float s, int8_t* out) { STX_DISPATCH(quantise_row, p, d, s, out); }

}  // namespace stx::ops::cpu

#pragma once
// Small dense row kernels shared by the CPU ops, each compiled for AVX-512 / AVX2 / baseline x86-64
// and picked at load time (ops/cpu/multiversion.h): hot inner loops run at the machine's vector
// width while libstx itself is built without -march flags.
#include <cstdint>

namespace stx::ops::cpu {

float sum_squares(const float* p, int64_t d);
double sum_squares(const double* p, int64_t d);
float dot(const float* a, const float* b, int64_t d);
double dot(const double* a, const double* b, int64_t d);
// dst = src * s (dst may alias src).
void scale_row(const float* src, float* dst, int64_t d, float s);
void scale_row(const double* src, double* dst, int64_t d, double s);
// y += a * x.
void axpy(float a, const float* x, float* y, int64_t d);
void axpy(double a, const double* x, double* y, int64_t d);

// mx[g] = max(mx[g], x[c * m + g]) over the rows c of a [rows, m] block (NaN never wins).
void max_into(const float* x, int64_t rows, int64_t m, float* mx);
void max_into(const double* x, int64_t rows, int64_t m, double* mx);
// First j in [from, n) with x[j] > above and x[j] >= at_least, or n.
int64_t next_candidate(const float* x, int64_t from, int64_t n, float above, float at_least);
int64_t next_candidate(const double* x, int64_t from, int64_t n, double above, double at_least);
// First j in [from, n) with x[j] > above, or n.
int64_t next_candidate(const int32_t* x, int64_t from, int64_t n, int32_t above);

// out[i] = base[offset[i]] (a gather, vectorised where the instruction set has one).
void gather(const float* base, const int32_t* offset, int64_t n, float* out);
void gather(const double* base, const int32_t* offset, int64_t n, double* out);

}  // namespace stx::ops::cpu

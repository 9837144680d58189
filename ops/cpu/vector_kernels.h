#pragma once
// Small dense row kernels shared by the CPU ops, each compiled for AVX-512 / AVX2 / baseline x86-64
// and run at the active instruction set (ops/cpu/multiversion.h: the CPU's best, capped by
// STX_CPU_ISA or set_cpu_isa): hot inner loops run at the machine's vector width while libstx
// itself is built without -march flags. Every version returns bit-identical results.
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
// y = sum_r w[r] * rows[r] over m rows of length d (y is written, not accumulated): each block of
// columns is summed in registers, so y is stored once instead of once per row.
void weighted_row_sum(const float* const* rows, const float* w, int64_t m, int64_t d, float* y);
void weighted_row_sum(const double* const* rows, const double* w, int64_t m, int64_t d, double* y);

// First j in [from, n) with x[j] > above, or n.
int64_t next_candidate(const float* x, int64_t from, int64_t n, float above);
int64_t next_candidate(const double* x, int64_t from, int64_t n, double above);
int64_t next_candidate(const int32_t* x, int64_t from, int64_t n, int32_t above);

// Writes every j in [0, n) with x[j] >= at_least to out (ascending) and returns how many: one
// branch-free pass, for rows where a good fraction of the columns qualify.
int64_t collect_at_least(const float* x, int64_t n, float at_least, int32_t* out);
int64_t collect_at_least(const double* x, int64_t n, double at_least, int32_t* out);
// Number of j in [0, n) with x[j] >= t.
int64_t count_at_least(const float* x, int64_t n, float t);
int64_t count_at_least(const double* x, int64_t n, double t);

// rank[i] = number of j with key[j] < key[i]: the sorted position of key i when the keys are
// distinct. O(n^2) compares, all vectorised, so faster than a comparison sort for a few hundred keys.
void rank_keys(const uint64_t* key, int64_t n, int32_t* rank);

// out[i] = base[offset[i]] (a gather, vectorised where the instruction set has one).
void gather(const float* base, const int32_t* offset, int64_t n, float* out);
void gather(const double* base, const int32_t* offset, int64_t n, double* out);

// max_j |p[j]|.
float abs_max(const float* p, int64_t d);
// out[j] = round(s * p[j]) (half away from zero) as int8 (|s * p[j]| must be <= 127); returns
// sum_j |out[j]|.
int32_t quantise_row(const float* p, int64_t d, float s, int8_t* out);

}  // namespace stx::ops::cpu

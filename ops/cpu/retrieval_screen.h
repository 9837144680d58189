#pragma once
// Exact cosine top-k with an int8 screen (CPU, float32): the [query tile x bank tile] scores are
// first computed as an int8 GEMM of the quantised normalised rows (oneDNN: about 3x the float32
// GEMM rate on AVX-512 VNNI, far slower without dot-product instructions; stx's AVX2 kernel:
// at most ~2x on AVX2 cores -- hence the calibrated dispatch), and only bank rows whose screened
// score could still beat the running k-th best -- given a rigorous bound on the quantisation
// error -- are rescored exactly in float32.
// The result is the float32 top-k; only the work changes.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ops/cpu/retrieval_select.h"
#include "ops/retrieval_common.h"

namespace stx::ops::retrieval {

// Whether a float32 cosine_topk takes the screened path: cosine metric, a problem big enough for
// the GEMM to dominate, and an int8 GEMM engine that is fast on this machine (a one-time
// calibration, ops/cpu/int8_gemm_probe.h). STX_COSINE_TOPK_SCREEN=0 / =1 forces it
// off / on.
bool use_int8_screen(Metric metric, int64_t Q, int64_t N, int64_t D);

// The size rule of use_int8_screen (all must hold); also in the dispatch report, so benchmarks and
// docs read it from here.
inline constexpr int64_t kScreenMinQueries = 512;
inline constexpr int64_t kScreenMinBank = 100000;
inline constexpr int64_t kScreenMinDim = 32;

// The rule above in words, for the dispatch report (calibrate: run the calibration if needed).
std::string screen_policy(bool calibrate);

// Feeds every admissible bank row (mask, self-exclusion) into the per-query running top-k
// `heaps`, with exact float32 cosine scores. `qn` is the [Q, D] float32 contiguous matrix of
// normalised queries; `bank` is [N, D] of any floating dtype (validated and normalised per tile).
void screened_cosine_scan(const at::Tensor& qn, const at::Tensor& bank, const bool* mask, bool exclude_self,
                          std::vector<TopkBuffer<float>>& heaps);

}  // namespace stx::ops::retrieval

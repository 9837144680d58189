// int8-screened exact cosine top-k (see retrieval_screen.h).
//
// Error bound. A normalised row x is quantised as X = round(s * x), s = 127 / max|x_i|, so
// x_i = (X_i + e_i) / s with |e_i| <= 1/2. For a query q (scale a) and a bank row b (tile scale c):
//   q.b = (Q.B + Q.e_b + e_q.B + e_q.e_b) / (a c),
// hence |q.b - Q.B / (a c)| <= (|Q|_1 / 2 + |B|_1 / 2 + D / 4) / (a c) =: eps(q), with |B|_1 taken
// as its maximum over the tile. Q.B is exact (int32 accumulation). The bound holds for any number
// of levels: the AVX2 kernel (int8_gemm_avx2.h) quantises queries to 63 levels instead of 127
// (7-bit operand), so a is about half and eps wider -- more rows get rescored, none is lost.
// A bank row whose screened score satisfies Q.B / (a c) <= T - eps - slack, where T is the exact
// score of the current k-th best, cannot enter the top-k (the slack covers the float32 rounding
// of the exact rescoring), so it is skipped; every other row is rescored exactly.
#include "ops/cpu/retrieval_screen.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/util/StringUtil.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <optional>
#include <string>

#include "ops/cpu/int8_gemm_avx2.h"
#include "ops/cpu/int8_gemm_probe.h"
#include "ops/cpu/retrieval_rows.h"
#include "ops/cpu/vector_kernels.h"

namespace stx::ops::retrieval {
namespace {

constexpr float kLevels = 127.0f;  // bank rows always; query rows with oneDNN
// |x*s - round(x*s)| <= 1/2 plus the float32 rounding of the product x*s (<= 127 * 2^-24).
constexpr double kHalfStep = 0.5 + 1e-5;

// Quantises n normalised rows of length d with one scale per row (scales != nullptr) or one scale
// for the whole block (returned). Writes |X|_1 per row into l1.
// `levels` is the largest |X_i| (127, or kAvx2QueryLevels for the AVX2 kernel's 7-bit operand).
float quantise_rows(const float* x, int64_t n, int64_t d, int8_t* out, float* scales, int32_t* l1,
                    float levels = kLevels) {
  std::vector<float> row_max(n);
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) row_max[r] = cpu::abs_max(x + r * d, d);
  });
  const float block_max = n > 0 ? *std::max_element(row_max.begin(), row_max.end()) : 0.0f;
  const auto scale_of = [levels](float m) { return m > 0.0f ? levels / m : 1.0f; };
  const float block_scale = scale_of(block_max);
  at::parallel_for(0, n, 256, [&](int64_t b, int64_t e) {
    for (int64_t r = b; r < e; ++r) {
      const float s = scales != nullptr ? (scales[r] = scale_of(row_max[r])) : block_scale;
      l1[r] = cpu::quantise_row(x + r * d, d, s, out + r * d);
    }
  });
  return block_scale;
}

// Largest integer screened score that proves a row cannot beat exact threshold t.
int64_t skip_bound(float t, double eps, double scale) {
  if (!std::isfinite(t)) return std::numeric_limits<int64_t>::min();
  return static_cast<int64_t>(std::floor((static_cast<double>(t) - eps) * scale));
}

}  // namespace

namespace {

// STX_COSINE_TOPK_SCREEN: "0" forces the screen off, "1" on (where it applies); read at every call.
std::optional<bool> forced_screen() {
  const char* force = std::getenv("STX_COSINE_TOPK_SCREEN");
  if (force == nullptr) return std::nullopt;
  if (std::strcmp(force, "0") == 0) return false;
  if (std::strcmp(force, "1") == 0) return true;
  TORCH_CHECK(*force == '\0', "STX_COSINE_TOPK_SCREEN must be \"0\" or \"1\" (or unset), got \"", force, "\"");
  return std::nullopt;
}

// The screen adds a per-bank-row cost (normalise + quantise, ~0.2 us per row at D = 256) and a
// per-query cost (heaps, rescoring) that only a large GEMM repays. Measured idle on an AVX512-VNNI
// CPU (docs/benchmarks.md, "Idle screen threshold"): below Q = 512 it never pays, and the bank size
// decides the rest -- it loses 0-20 % at N = 50 000 for every Q, is level to 1.23x at N = 100 000
// and wins 1.28-1.59x at N = 200 000.
bool large_enough(int64_t Q, int64_t N, int64_t D) {
  return D >= kScreenMinDim && Q >= kScreenMinQueries && N >= kScreenMinBank;
}

}  // namespace

bool use_int8_screen(Metric metric, int64_t Q, int64_t N, int64_t D) {
  // int32 accumulation holds D * 127^2 for D up to 133143.
  if (metric != Metric::kCosine || D <= 0 || D > 131072) return false;
  if (const auto forced = forced_screen(); forced.has_value()) return *forced;
  return large_enough(Q, N, D) && cpu::int8_gemm_verdict(/*calibrate=*/true).fast;
}

std::string screen_policy(bool calibrate) {
  if (const auto forced = forced_screen(); forced.has_value()) {
    return *forced ? "on (forced by STX_COSINE_TOPK_SCREEN=1)" : "off (forced by STX_COSINE_TOPK_SCREEN=0)";
  }
  const cpu::Int8GemmVerdict v = cpu::int8_gemm_verdict(calibrate);
  if (v.engine == cpu::Int8Engine::kNone) {
    return "off (no AVX2, AVX512-VNNI, AVX-VNNI or AMX-INT8: the int8 GEMM would be slow)";
  }
  if (!v.calibrated) return "not decided yet (calibrated on the first large cosine call)";
  const std::string ratio =
      c10::str(" (int8 GEMM ", cpu::engine_name(v.engine), " measured ", v.speedup, "x the float32 GEMM)");
  if (!v.fast) return "off" + ratio + c10::str(", below the ", v.required, "x it needs");
  return c10::str("on for float32 cosine with Q >= ", kScreenMinQueries, ", N >= ", kScreenMinBank, ", D >= ",
                  kScreenMinDim) + ratio;
}

void screened_cosine_scan(const at::Tensor& qn, const at::Tensor& bank, const bool* mask, bool exclude_self,
                          std::vector<TopkBuffer<float>>& heaps) {
  const int64_t Q = qn.size(0), D = qn.size(1), N = bank.size(0);
  if (Q == 0 || N == 0) return;
  const float* q = qn.const_data_ptr<float>();
  const auto opts = qn.options();

  // The engine of the calibration (or the default by features when the screen is forced).
  const bool avx2 = cpu::int8_gemm_verdict(/*calibrate=*/false).engine == cpu::Int8Engine::kAvx2;
  at::Tensor q8 = at::empty({Q, D}, opts.dtype(at::kChar));
  std::vector<float> q_scale(Q);
  std::vector<int32_t> q_l1(Q);
  quantise_rows(q, Q, D, q8.mutable_data_ptr<int8_t>(), q_scale.data(), q_l1.data(),
                avx2 ? static_cast<float>(cpu::kAvx2QueryLevels) : kLevels);
  // AVX2 kernel operands: queries as u8 X + 64 (zero-padded to whole 4-byte groups), bank tiles packed.
  const int64_t kp = cpu::avx2_padded_depth(D);
  at::Tensor qa, packed, bias;
  if (avx2) {
    qa = at::zeros({Q, kp}, opts.dtype(at::kByte));
    const int8_t* src = q8.const_data_ptr<int8_t>();
    uint8_t* dst = qa.mutable_data_ptr<uint8_t>();
    at::parallel_for(0, Q, 256, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) {
        for (int64_t i = 0; i < D; ++i) dst[r * kp + i] = static_cast<uint8_t>(src[r * D + i] + cpu::kAvx2QueryOffset);
      }
    });
  }

  const int64_t nt_max = std::min(N, kBankTile), qt_max = std::min(Q, kQueryTile);
  at::Tensor tile = at::empty({nt_max, D}, opts);
  at::Tensor b8 = at::empty({nt_max, D}, opts.dtype(at::kChar));
  at::Tensor acc_buf = at::empty({qt_max * nt_max}, opts.dtype(at::kInt));
  if (avx2) {
    packed = at::empty({cpu::avx2_packed_bytes(nt_max, D)}, opts.dtype(at::kChar));
    bias = at::empty({nt_max}, opts.dtype(at::kInt));
  }
  std::vector<float> b_sq(nt_max);
  std::vector<int32_t> b_l1(nt_max);
  // Float32 rounding of the exact rescoring: |fl(q.b) - q.b| <= D * 2^-24 (+ margin).
  const double slack = static_cast<double>(2 * D + 16) * std::ldexp(1.0, -24);

  for (int64_t n0 = 0; n0 < N; n0 += nt_max) {
    const int64_t nt = std::min(nt_max, N - n0);
    at::Tensor b_tile = tile.narrow(0, 0, nt);
    at::Tensor src = bank.narrow(0, n0, nt);  // normalised straight into the tile when it is float32 already
    if (src.scalar_type() != at::kFloat || !src.is_contiguous()) src = b_tile.copy_(src);
    float* bp = b_tile.mutable_data_ptr<float>();
    row_sq_norms(src.const_data_ptr<float>(), nt, D, b_sq.data(), "bank", n0, bp);
    int8_t* b8p = b8.mutable_data_ptr<int8_t>();
    const float b_scale = quantise_rows(bp, nt, D, b8p, nullptr, b_l1.data());
    const double b_l1_max = *std::max_element(b_l1.begin(), b_l1.begin() + nt);
    const at::Tensor b8_tile = b8.narrow(0, 0, nt);
    if (avx2) cpu::avx2_pack_s8(b8p, nt, D, cpu::kAvx2QueryOffset, packed.mutable_data_ptr<int8_t>(),
                                bias.mutable_data_ptr<int32_t>());

    for (int64_t q0 = 0; q0 < Q; q0 += qt_max) {
      const int64_t qt = std::min(qt_max, Q - q0);
      at::Tensor acc = acc_buf.narrow(0, 0, qt * nt).view({qt, nt});
      if (avx2) {
        cpu::avx2_gemm_u8s8(qa.const_data_ptr<uint8_t>() + q0 * kp, qt, packed.const_data_ptr<int8_t>(), nt, D,
                            bias.const_data_ptr<int32_t>(), acc.mutable_data_ptr<int32_t>(), nt);
      } else {
        at::_int_mm_out(acc, q8.narrow(0, q0, qt), b8_tile.t());
      }
      const int32_t* ap = acc.const_data_ptr<int32_t>();
      at::parallel_for(0, qt, 4, [&](int64_t rb, int64_t re) {
        for (int64_t r = rb; r < re; ++r) {
          const int64_t qi = q0 + r;
          const float* qrow = q + qi * D;
          const int32_t* row = ap + r * nt;
          TopkBuffer<float>& heap = heaps[qi];
          const double scale = static_cast<double>(q_scale[qi]) * b_scale;
          const double eps = (kHalfStep * (q_l1[qi] + b_l1_max) + kHalfStep * kHalfStep * D) / scale + slack;
          const int64_t self = exclude_self ? qi : -1;
          int64_t bound = skip_bound(heap.threshold(), eps, scale);
          auto admit = [&](int64_t j) {
            const int64_t g = n0 + j;
            if ((mask != nullptr && !mask[g]) || g == self) return;
            heap.push(cpu::dot(qrow, bp + j * D, D), g);  // exact float32 rescoring
            bound = skip_bound(heap.threshold(), eps, scale);
          };
          // Clamped to int32 (screened scores are within +-D*127^2): below INT32_MIN admits all.
          auto bound32 = [&] {
            return static_cast<int32_t>(std::clamp<int64_t>(bound, std::numeric_limits<int32_t>::min(),
                                                            std::numeric_limits<int32_t>::max()));
          };
          for (int64_t j = cpu::next_candidate(row, 0, nt, bound32()); j < nt;
               j = cpu::next_candidate(row, j + 1, nt, bound32())) {
            admit(j);
          }
        }
      });
    }
  }
}

}  // namespace stx::ops::retrieval

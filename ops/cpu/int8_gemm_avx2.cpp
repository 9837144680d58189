// AVX2 u8 x s8 GEMM (see int8_gemm_avx2.h). libstx is built without -march flags: the kernel is
// compiled for AVX2 through a target attribute and only called when the CPU has AVX2.
#include "ops/cpu/int8_gemm_avx2.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstring>

#include "ops/cpu/multiversion.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define STX_HAVE_AVX2_GEMM 1
#endif

namespace stx::ops::cpu {

void avx2_pack_s8(const int8_t* b, int64_t n, int64_t d, int32_t offset, int8_t* packed, int32_t* bias) {
  const int64_t kp = avx2_padded_depth(d), panels = (n + kAvx2PanelRows - 1) / kAvx2PanelRows;
  at::parallel_for(0, panels, 16, [&](int64_t pb, int64_t pe) {
    for (int64_t p = pb; p < pe; ++p) {
      int8_t* dst = packed + p * kAvx2PanelRows * kp;
      std::memset(dst, 0, static_cast<size_t>(kAvx2PanelRows * kp));
      for (int64_t r = 0; r < kAvx2PanelRows; ++r) {
        const int64_t j = p * kAvx2PanelRows + r;
        if (j >= n) break;
        const int8_t* row = b + j * d;
        int32_t sum = 0;
        for (int64_t k = 0; k < d; ++k) sum += row[k];
        // Group g of 4 depths lives at dst[g * 64 + r * 4 .. + 3]: one 32-byte load holds 8 rows.
        for (int64_t g = 0; g * 4 < d; ++g) {
          const auto bytes = static_cast<size_t>(std::min<int64_t>(4, d - g * 4));
          std::memcpy(dst + g * 4 * kAvx2PanelRows + r * 4, row + g * 4, bytes);
        }
        if (bias != nullptr) bias[j] = offset * sum;
      }
    }
  });
}

#ifdef STX_HAVE_AVX2_GEMM
namespace {

// MR query rows x one 16-row panel, the whole depth in registers: 2 * MR int32x8 accumulators.
// Each step broadcasts 4 bytes of a query row against 4 depths of 16 bank rows; maddubs forms
// int16 pair sums (<= 32258, no saturation) and madd with ones widens them to int32.
template <int MR>
STX_TARGET_AVX2 void micro_kernel(const uint8_t* a, int64_t kp, const int8_t* panel, const int32_t* bias,
                                  int32_t* c, int64_t ldc, int64_t cols) {
  // Fully unrolled (the pragmas) so the accumulators live in registers, not on the stack.
  __m256i acc[MR][2];
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) acc[r][0] = acc[r][1] = _mm256_setzero_si256();
  const __m256i ones = _mm256_set1_epi16(1);
  for (int64_t k = 0; k < kp; k += 4) {
    const __m256i b0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + k * kAvx2PanelRows));
    const __m256i b1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(panel + k * kAvx2PanelRows + 32));
#pragma GCC unroll 8
    for (int r = 0; r < MR; ++r) {
      int32_t word;
      std::memcpy(&word, a + r * kp + k, 4);
      const __m256i av = _mm256_set1_epi32(word);
      acc[r][0] = _mm256_add_epi32(acc[r][0], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b0), ones));
      acc[r][1] = _mm256_add_epi32(acc[r][1], _mm256_madd_epi16(_mm256_maddubs_epi16(av, b1), ones));
    }
  }
  __m256i bias0 = _mm256_setzero_si256(), bias1 = _mm256_setzero_si256();
  int32_t tail_bias[kAvx2PanelRows] = {};
  if (bias != nullptr) {
    std::memcpy(tail_bias, bias, static_cast<size_t>(cols) * sizeof(int32_t));
    bias0 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tail_bias));
    bias1 = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(tail_bias + 8));
  }
#pragma GCC unroll 8
  for (int r = 0; r < MR; ++r) {
    const __m256i v0 = _mm256_sub_epi32(acc[r][0], bias0), v1 = _mm256_sub_epi32(acc[r][1], bias1);
    int32_t* out = c + r * ldc;
    if (cols == kAvx2PanelRows) {
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(out + 8), v1);
    } else {  // last panel: only its real rows are columns of c
      int32_t tmp[kAvx2PanelRows];
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(tmp), v0);
      _mm256_storeu_si256(reinterpret_cast<__m256i*>(tmp + 8), v1);
      std::memcpy(out, tmp, static_cast<size_t>(cols) * sizeof(int32_t));
    }
  }
}

constexpr int kMr = 4;  // 8 accumulators + 2 bank vectors + broadcast + ones: fits 16 ymm registers

void panel_times_rows(const uint8_t* a, int64_t m, int64_t kp, const int8_t* panel, const int32_t* bias, int32_t* c,
                      int64_t ldc, int64_t cols) {
  int64_t i = 0;
  for (; i + kMr <= m; i += kMr) micro_kernel<kMr>(a + i * kp, kp, panel, bias, c + i * ldc, ldc, cols);
  switch (m - i) {
    case 3:
      return micro_kernel<3>(a + i * kp, kp, panel, bias, c + i * ldc, ldc, cols);
    case 2:
      return micro_kernel<2>(a + i * kp, kp, panel, bias, c + i * ldc, ldc, cols);
    case 1:
      return micro_kernel<1>(a + i * kp, kp, panel, bias, c + i * ldc, ldc, cols);
    default:
      return;
  }
}

}  // namespace
#endif

void avx2_gemm_u8s8(const uint8_t* a, int64_t m, const int8_t* packed, int64_t n, int64_t d, const int32_t* bias,
                    int32_t* c, int64_t ldc) {
#ifdef STX_HAVE_AVX2_GEMM
  const int64_t kp = avx2_padded_depth(d), panels = (n + kAvx2PanelRows - 1) / kAvx2PanelRows;
  // Query rows in blocks that stay in L2 while a thread's panels (each in L1) pass over them.
  const int64_t row_block = std::max<int64_t>(kMr, (int64_t{128} << 10) / std::max<int64_t>(kp, 1) / kMr * kMr);
  at::parallel_for(0, panels, 4, [&](int64_t pb, int64_t pe) {
    for (int64_t i0 = 0; i0 < m; i0 += row_block) {
      const int64_t mb = std::min(row_block, m - i0);
      for (int64_t p = pb; p < pe; ++p) {
        const int64_t j0 = p * kAvx2PanelRows, cols = std::min(kAvx2PanelRows, n - j0);
        panel_times_rows(a + i0 * kp, mb, kp, packed + j0 * kp, bias != nullptr ? bias + j0 : nullptr,
                         c + i0 * ldc + j0, ldc, cols);
      }
    }
  });
#else
  (void)a, (void)m, (void)packed, (void)n, (void)d, (void)bias, (void)c, (void)ldc;
  TORCH_CHECK(false, "avx2_gemm_u8s8: not built for this architecture");
#endif
}

}  // namespace stx::ops::cpu

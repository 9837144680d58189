#pragma once
// u8 x s8 GEMM for CPUs with AVX2 but no dot-product instructions (e.g. AMD Zen 3): the int8 screen's
// tile product C[i, j] = sum_k A[i, k] * B[j, k] - bias[j], built on vpmaddubsw + vpmaddwd.
//
// vpmaddubsw adds two u8 * s8 products into an int16 with saturation, so a pair must stay within
// 32767: A is restricted to 7 bits (0..127) and |B| <= 127, giving at most 2 * 127 * 127 = 32258.
// Signed values x in [-63, 63] are stored as A = x + 64; the caller removes the offset through
// bias[j] = 64 * sum_k B[j, k] (kAvx2QueryOffset). Only call these when cpu::active_features().avx2.
#include <cstdint>

namespace stx::ops::cpu {

constexpr int64_t kAvx2PanelRows = 16;  // bank rows per packed panel (two ymm of int32 outputs)
constexpr int kAvx2QueryLevels = 63;    // |x| <= 63 before the offset: A = x + 64 fits 7 bits
constexpr int32_t kAvx2QueryOffset = 64;

// Depth padded to whole 4-byte groups (padding is zero in both operands).
inline int64_t avx2_padded_depth(int64_t d) { return (d + 3) / 4 * 4; }
// Bytes of a packed [n, d] operand: panels of 16 rows, each [kp / 4][16 rows][4 bytes].
inline int64_t avx2_packed_bytes(int64_t n, int64_t d) {
  return (n + kAvx2PanelRows - 1) / kAvx2PanelRows * kAvx2PanelRows * avx2_padded_depth(d);
}

// Packs s8 rows b[n, d] into `packed` (avx2_packed_bytes) and writes bias[j] = offset * sum_k b[j, k]
// for the n rows (bias may be null).
void avx2_pack_s8(const int8_t* b, int64_t n, int64_t d, int32_t offset, int8_t* packed, int32_t* bias);

// A[m, kp] u8 (row stride kp = avx2_padded_depth(d), zero-padded, values <= 127) times the packed
// B[n, d]: c[i * ldc + j] = A[i] . B[j] - bias[j] (bias may be null). Parallel over bank panels.
void avx2_gemm_u8s8(const uint8_t* a, int64_t m, const int8_t* packed, int64_t n, int64_t d, const int32_t* bias,
                    int32_t* c, int64_t ldc);

}  // namespace stx::ops::cpu

#pragma once
// Which int8 GEMM the int8 screen uses, and whether it is fast on this machine. Two engines:
// - oneDNN (at::_int_mm, int32 accumulation): fast with dot-product instructions (AVX512-VNNI,
//   AVX-VNNI or AMX-INT8); without them slower than float32, up to ~70x where ATen falls back to
//   its reference loop, so it is only a candidate with those features;
// - stx's own AVX2 u8 x s8 kernel (ops/cpu/int8_gemm_avx2.h, vpmaddubsw): the candidate on AVX2
//   CPUs without dot-product instructions (e.g. AMD Zen 3), and on others if it measures faster.
// Since the features alone do not say what a GEMM will achieve (torch's build, ONEDNN_MAX_CPU_ISA,
// the core), a one-time calibration per process and engine measures each candidate against the
// float32 GEMM; the faster one is used, and the screen only when it is fast enough.
namespace stx::ops::cpu {

// Minimum int8 / float32 GEMM speed ratio at which an int8-screened path pays for its per-row
// quantisation and exact rescoring (measured: the screen's extra work is ~25% of the float32 path's
// time, so it breaks even near 1.35x; 1.6x keeps a margin for calibration noise).
constexpr double kMinInt8Speedup = 1.6;
// The same for stx's AVX2 kernel. Its screen costs more per bank row (packing, and 7-bit queries
// double the error bound's query term, so more rows are rescored), and its ceiling is ~2x (two
// multiply uops per 32 byte products against two 8-wide FMAs). Measured on a real AVX2-only CPU
// (a 2-vCPU AMD EPYC VM, docs/benchmarks.md, 2026-12-07) for the sizes the screen's rule admits
// (N >= 100 000, retrieval_screen.h): the screen beat the float32 path in every run, 1.08-1.37x in
// the Q sweep and 1.3-1.8x at the reference case, while the calibration of such processes read
// 1.36-2.11x (the VM's noise, not the core: best-of-nine alternated timings did not tame it).
// 1.3x takes it there, close to the ~1.35x break-even of the screen's extra work; an engine below
// that (a core without fast byte multiplies) stays off.
constexpr double kMinAvx2Int8Speedup = 1.3;

enum class Int8Engine { kNone, kOneDnn, kAvx2 };
const char* engine_name(Int8Engine e);  // "none", "onednn", "avx2_maddubs"

struct Int8GemmVerdict {
  bool has_dot_product_isa = false;  // AVX512-VNNI, AVX-VNNI or AMX-INT8 among the active features
  bool has_avx2_kernel = false;      // AVX2 among the active features (stx's own kernel can run)
  bool calibrated = false;           // every candidate engine has been measured in this process
  double onednn_speedup = 0.0;       // float32 GEMM time / oneDNN int8 GEMM time (0: not measured)
  double avx2_speedup = 0.0;         // float32 GEMM time / AVX2 kernel time (0: not measured)
  // The engine the screen uses: when calibrated the candidate furthest above its minimum, before that the default
  // (oneDNN with dot-product instructions, else the AVX2 kernel, else oneDNN's reference loop).
  Int8Engine engine = Int8Engine::kNone;
  double speedup = 0.0;  // the chosen engine's measured ratio
  double required = 0.0;  // the chosen engine's minimum (kMinInt8Speedup or kMinAvx2Int8Speedup)
  bool fast = false;       // calibrated && speedup >= required
};

// With calibrate = true the calibration of each candidate runs once (a few milliseconds on one
// thread; [256, 256] x [256, 1024] tiles, best of nine of each, alternated) if it has not run yet; with false no
// measurement is started and an uncalibrated verdict is not fast.
Int8GemmVerdict int8_gemm_verdict(bool calibrate);

}  // namespace stx::ops::cpu

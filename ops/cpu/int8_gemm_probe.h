#pragma once
// Whether ATen's int8 GEMM (at::_int_mm, int32 accumulation) is fast on this machine: it needs
// dot-product instructions (AVX512-VNNI, AVX-VNNI or AMX-INT8; without them an int8 GEMM is slower
// than the float32 one, up to ~70x where ATen falls back to its reference loop), and, since the
// features alone do not say which kernel ATen/oneDNN will pick (torch's build, ONEDNN_MAX_CPU_ISA,
// thread count), a one-time calibration per process measures it against the float32 GEMM.
namespace stx::ops::cpu {

// Minimum int8 / float32 GEMM speed ratio at which an int8-screened path pays for its per-row
// quantisation and exact rescoring (measured: the screen's extra work is ~25% of the float32 path's
// time, so it breaks even near 1.35x; 1.6x keeps a margin for calibration noise).
constexpr double kMinInt8Speedup = 1.6;

struct Int8GemmVerdict {
  bool has_dot_product_isa = false;  // AVX512-VNNI, AVX-VNNI or AMX-INT8 among the active features
  bool calibrated = false;           // the calibration has run in this process
  double speedup = 0.0;              // float32 GEMM time / int8 GEMM time (when calibrated)
  bool fast = false;                 // has_dot_product_isa && calibrated && speedup >= kMinInt8Speedup
};

// With calibrate = true the calibration runs once (a few milliseconds on one thread; [256, 256] x
// [256, 1024] tiles, best of five) if the features allow it and it has not run yet; with false no measurement
// is started and an uncalibrated verdict is not fast.
Int8GemmVerdict int8_gemm_verdict(bool calibrate);

}  // namespace stx::ops::cpu

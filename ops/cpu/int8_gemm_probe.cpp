// One-time calibration of the int8 GEMM engines against ATen's float32 GEMM (see int8_gemm_probe.h).
#include "ops/cpu/int8_gemm_probe.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>
#include <vector>

#include "ops/cpu/cpu_features.h"
#include "ops/cpu/int8_gemm_avx2.h"

namespace stx::ops::cpu {
namespace {

std::mutex probe_mutex;
std::atomic<double> onednn_measured{0.0};  // 0 = not calibrated yet
std::atomic<double> avx2_measured{0.0};

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

constexpr int kCalibrationRounds = 9;  // tens of milliseconds on one core

// The float32 / int8 time ratio from the best of nine timings of each, taken in alternation after
// one untimed warm-up call of each (which creates and JIT-compiles oneDNN's primitive): on a shared
// machine a slow moment (a neighbour, a frequency change) then hits both alike. (On a 2-vCPU AMD
// EPYC VM the AVX2 kernel's ratio still reads 1.6-2.1x from one process to the next, whatever the
// number of rounds; its minimum in int8_gemm_probe.h allows for that.) An int8 GEMM 20x slower than float32 (ATen's reference loop) is not measured further.
double speedup(const std::function<void()>& float32_gemm, const std::function<void()>& int8_gemm) {
  float32_gemm();
  int8_gemm();
  double best_float = seconds_of(float32_gemm), best_int8 = seconds_of(int8_gemm);
  if (best_int8 > 20 * best_float) return best_float / best_int8;
  for (int round = 1; round < kCalibrationRounds; ++round) {
    best_float = std::min(best_float, seconds_of(float32_gemm));
    best_int8 = std::min(best_int8, seconds_of(int8_gemm));
  }
  return best_float / std::max(best_int8, 1e-9);
}

// Runs the calibration on one thread and restores the thread count after: the int8/float32 ratio
// is a property of a core, and a multi-threaded GEMM of a few hundred microseconds measures the
// wake-up of the thread pool instead (tens of milliseconds on a loaded machine).
struct SingleThreaded {
  int saved = at::get_num_threads();
  SingleThreaded() { at::set_num_threads(1); }
  ~SingleThreaded() { at::set_num_threads(saved); }
};

// The shapes of the screen's tiles: a query block times a transposed bank tile.
constexpr int64_t kM = 256, kK = 256, kN = 1024;

// The float32 GEMM of a screen tile, the reference of both engines.
struct Float32Tile {
  at::Tensor a = at::full({kM, kK}, 0.5f), b = at::full({kN, kK}, 0.25f), out = at::empty({kM, kN});
  void operator()() { at::mm_out(out, a, b.t()); }
};

double calibrate_onednn() {
  c10::InferenceMode guard;  // plain tensors, no autograd bookkeeping
  SingleThreaded one_thread;
  Float32Tile float32;
  const at::Tensor a8 = at::full({kM, kK}, 3, at::kChar), b8 = at::full({kN, kK}, -5, at::kChar);
  at::Tensor out8 = at::empty({kM, kN}, at::kInt);
  return speedup(std::ref(float32), [&] { at::_int_mm_out(out8, a8, b8.t()); });
}

// The bank tile is packed once per tile in the screen, so packing is outside the timed call.
double calibrate_avx2() {
  c10::InferenceMode guard;
  SingleThreaded one_thread;
  Float32Tile float32;
  std::vector<uint8_t> a(kM * avx2_padded_depth(kK), 70);
  std::vector<int8_t> b(kN * kK, -5), packed(avx2_packed_bytes(kN, kK));
  std::vector<int32_t> bias(kN), out(kM * kN);
  avx2_pack_s8(b.data(), kN, kK, kAvx2QueryOffset, packed.data(), bias.data());
  return speedup(std::ref(float32),
                 [&] { avx2_gemm_u8s8(a.data(), kM, packed.data(), kN, kK, bias.data(), out.data(), kN); });
}

double measured(std::atomic<double>& slot, double (*calibrate)(), bool calibrate_now) {
  double v = slot.load();
  if (v == 0.0 && calibrate_now) {
    std::lock_guard<std::mutex> lock(probe_mutex);
    v = slot.load();
    if (v == 0.0) {
      v = calibrate();
      slot.store(v);
    }
  }
  return v;
}

}  // namespace

const char* engine_name(Int8Engine e) {
  switch (e) {
    case Int8Engine::kOneDnn:
      return "onednn";
    case Int8Engine::kAvx2:
      return "avx2_maddubs";
    case Int8Engine::kNone:
      break;
  }
  return "none";
}

Int8GemmVerdict int8_gemm_verdict(bool calibrate_now) {
  Int8GemmVerdict v;
  const Features f = active_features();
  v.has_dot_product_isa = f.avx512_vnni || f.avx_vnni || f.amx_int8;
  v.has_avx2_kernel = f.avx2;
  if (v.has_dot_product_isa) v.onednn_speedup = measured(onednn_measured, calibrate_onednn, calibrate_now);
  if (v.has_avx2_kernel) v.avx2_speedup = measured(avx2_measured, calibrate_avx2, calibrate_now);
  v.calibrated = (v.has_dot_product_isa || v.has_avx2_kernel) && (!v.has_dot_product_isa || v.onednn_speedup > 0) &&
                 (!v.has_avx2_kernel || v.avx2_speedup > 0);
  // Default before calibration; after it, the candidate furthest above its own minimum.
  v.engine = v.has_dot_product_isa ? Int8Engine::kOneDnn : v.has_avx2_kernel ? Int8Engine::kAvx2 : Int8Engine::kNone;
  if (v.calibrated && v.has_dot_product_isa && v.has_avx2_kernel &&
      v.avx2_speedup / kMinAvx2Int8Speedup > v.onednn_speedup / kMinInt8Speedup) {
    v.engine = Int8Engine::kAvx2;
  }
  const bool avx2 = v.engine == Int8Engine::kAvx2;
  v.speedup = avx2 ? v.avx2_speedup : v.onednn_speedup;
  v.required = avx2 ? kMinAvx2Int8Speedup : kMinInt8Speedup;
  v.fast = v.calibrated && v.speedup >= v.required;
  return v;
}

}  // namespace stx::ops::cpu

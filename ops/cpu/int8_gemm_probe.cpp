// One-time calibration of ATen's int8 GEMM against its float32 GEMM (see int8_gemm_probe.h).
#include "ops/cpu/int8_gemm_probe.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <functional>
#include <mutex>

#include "ops/cpu/cpu_features.h"

namespace stx::ops::cpu {
namespace {

std::mutex probe_mutex;
std::atomic<double> measured_speedup{0.0};  // 0 = not calibrated yet

double seconds_of(const std::function<void()>& fn) {
  const auto t0 = std::chrono::steady_clock::now();
  fn();
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Best of five, after one untimed warm-up call (which creates and JIT-compiles oneDNN's primitive).
// A GEMM that takes `give_up` seconds is not measured further (ATen's reference loop).
double best_time(const std::function<void()>& fn, double give_up) {
  fn();
  double best = seconds_of(fn);
  if (best > give_up) return best;
  for (int i = 0; i < 4; ++i) best = std::min(best, seconds_of(fn));
  return best;
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
double calibrate() {
  c10::InferenceMode guard;  // plain tensors, no autograd bookkeeping
  SingleThreaded one_thread;
  constexpr int64_t M = 256, K = 256, N = 1024;
  const at::Tensor a = at::full({M, K}, 0.5f), b = at::full({N, K}, 0.25f);
  const at::Tensor a8 = at::full({M, K}, 3, at::kChar), b8 = at::full({N, K}, -5, at::kChar);
  at::Tensor out = at::empty({M, N}), out8 = at::empty({M, N}, at::kInt);
  const double t_float = best_time([&] { at::mm_out(out, a, b.t()); }, 1.0);
  const double t_int8 = best_time([&] { at::_int_mm_out(out8, a8, b8.t()); }, 20 * t_float);
  return t_float / std::max(t_int8, 1e-9);
}

}  // namespace

Int8GemmVerdict int8_gemm_verdict(bool calibrate_now) {
  Int8GemmVerdict v;
  const Features f = active_features();
  v.has_dot_product_isa = f.avx512_vnni || f.avx_vnni || f.amx_int8;
  if (!v.has_dot_product_isa) return v;
  double speedup = measured_speedup.load();
  if (speedup == 0.0 && calibrate_now) {
    std::lock_guard<std::mutex> lock(probe_mutex);
    speedup = measured_speedup.load();
    if (speedup == 0.0) {
      speedup = calibrate();
      measured_speedup.store(speedup);
    }
  }
  v.calibrated = speedup > 0.0;
  v.speedup = speedup;
  v.fast = v.calibrated && speedup >= kMinInt8Speedup;
  return v;
}

}  // namespace stx::ops::cpu

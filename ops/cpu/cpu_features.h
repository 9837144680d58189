#pragma once
// What the CPU offers stx's CPU kernels, detected at run time through cpuinfo (the copy torch ships
// in libc10), and which instruction set stx's multi-versioned row kernels run at. The level is the
// best the CPU has, capped by the environment variable STX_CPU_ISA ("avx512", "avx2", "baseline";
// read once) or by set_active_isa (tests and benchmarks). A cap also masks the features above it,
// so STX_CPU_ISA=avx2 makes stx behave as on an x86-64-v3 CPU without VNNI or AMX (e.g. AMD Zen 3).
#include <atomic>
#include <optional>
#include <string>

namespace stx::ops::cpu {

enum class Isa : int { kBaseline = 0, kAvx2 = 1, kAvx512 = 2 };

struct Features {
  bool avx2 = false;
  bool fma = false;
  bool avx512f = false;
  bool avx512bw = false;
  bool avx512_vnni = false;
  bool avx_vnni = false;
  bool amx_int8 = false;
};

const char* isa_name(Isa isa);
// "avx512" / "avx2" / "baseline" (also "default"); nullopt for anything else.
std::optional<Isa> parse_isa(const std::string& name);

// The hardware as cpuinfo reports it (features the OS has not enabled count as absent).
const Features& hardware_features();
Isa hardware_isa();
// The CPU model name cpuinfo reports for package 0 ("unknown" when it has none).
const std::string& cpu_model();

// Where the active level comes from: "cpu", "STX_CPU_ISA=<value>" or "set_cpu_isa".
std::string active_isa_source();
// Forces the level (nullopt: back to the CPU's level capped by STX_CPU_ISA). A level above the
// hardware's is an error naming both.
void set_active_isa(std::optional<Isa> isa);
// hardware_features() with everything above active_isa() masked out.
Features active_features();

namespace detail {
extern std::atomic<int> active_isa_level;  // -1 until first resolved
Isa resolve_active_isa();
}  // namespace detail

// The level the kernels use now; hot path: one relaxed atomic load after the first call.
inline Isa active_isa() {
  const int level = detail::active_isa_level.load(std::memory_order_relaxed);
  return level >= 0 ? static_cast<Isa>(level) : detail::resolve_active_isa();
}

}  // namespace stx::ops::cpu

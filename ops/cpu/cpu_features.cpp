// CPU feature detection (cpuinfo, as shipped in torch's libc10) and the active kernel level.
#include "ops/cpu/cpu_features.h"

#include <c10/util/Exception.h>
#include <cpuinfo.h>

#include <algorithm>
#include <cstdlib>
#include <mutex>

namespace stx::ops::cpu {
namespace detail {
std::atomic<int> active_isa_level{-1};
}  // namespace detail

namespace {

std::mutex isa_mutex;
std::string isa_source = "cpu";  // guarded by isa_mutex

bool cpuinfo_ready() {
  static const bool ok = cpuinfo_initialize();
  return ok;
}

// The level STX_CPU_ISA asks for, read once; nullopt when unset or empty. An unknown value is an
// error at the first kernel call, naming the variable.
std::optional<Isa> env_isa_cap() {
  static const std::optional<Isa> cap = []() -> std::optional<Isa> {
    const char* v = std::getenv("STX_CPU_ISA");
    if (v == nullptr || *v == '\0') return std::nullopt;
    const auto isa = parse_isa(v);
    TORCH_CHECK(isa.has_value(), "STX_CPU_ISA must be \"avx512\", \"avx2\" or \"baseline\", got \"", v, "\"");
    return isa;
  }();
  return cap;
}

}  // namespace

const char* isa_name(Isa isa) {
  switch (isa) {
    case Isa::kAvx512:
      return "avx512";
    case Isa::kAvx2:
      return "avx2";
    case Isa::kBaseline:
      break;
  }
  return "baseline";
}

std::optional<Isa> parse_isa(const std::string& name) {
  if (name == "avx512") return Isa::kAvx512;
  if (name == "avx2") return Isa::kAvx2;
  if (name == "baseline" || name == "default") return Isa::kBaseline;
  return std::nullopt;
}

const Features& hardware_features() {
  static const Features features = [] {
    Features f;
    if (!cpuinfo_ready()) return f;  // unknown CPU: baseline kernels, no fast paths
    f.avx2 = cpuinfo_has_x86_avx2();
    f.fma = cpuinfo_has_x86_fma3();
    f.avx512f = cpuinfo_has_x86_avx512f();
    f.avx512bw = cpuinfo_has_x86_avx512bw();
    f.avx512_vnni = cpuinfo_has_x86_avx512vnni();
    f.avx_vnni = cpuinfo_has_x86_avxvnni();
    f.amx_int8 = cpuinfo_has_x86_amx_int8();
    return f;
  }();
  return features;
}

Isa hardware_isa() {
  const Features& f = hardware_features();
  if (f.avx512f) return Isa::kAvx512;
  if (f.avx2) return Isa::kAvx2;
  return Isa::kBaseline;
}

const std::string& cpu_model() {
  static const std::string model = []() -> std::string {
    if (!cpuinfo_ready() || cpuinfo_get_packages_count() == 0) return "unknown";
    const cpuinfo_package* p = cpuinfo_get_package(0);
    return p != nullptr && p->name[0] != '\0' ? std::string(p->name) : std::string("unknown");
  }();
  return model;
}

Isa detail::resolve_active_isa() {
  std::lock_guard<std::mutex> lock(isa_mutex);
  int level = active_isa_level.load(std::memory_order_relaxed);
  if (level < 0) {
    Isa isa = hardware_isa();
    if (const auto cap = env_isa_cap(); cap.has_value()) {
      isa = std::min(isa, *cap);
      isa_source = std::string("STX_CPU_ISA=") + std::getenv("STX_CPU_ISA");
    }
    level = static_cast<int>(isa);
    active_isa_level.store(level, std::memory_order_relaxed);
  }
  return static_cast<Isa>(level);
}

std::string active_isa_source() {
  active_isa();
  std::lock_guard<std::mutex> lock(isa_mutex);
  return isa_source;
}

void set_active_isa(std::optional<Isa> isa) {
  if (isa.has_value()) {
    TORCH_CHECK(*isa <= hardware_isa(), "set_cpu_isa: this CPU cannot run \"", isa_name(*isa),
                "\" kernels (best available: \"", isa_name(hardware_isa()), "\")");
  }
  std::lock_guard<std::mutex> lock(isa_mutex);
  isa_source = isa.has_value() ? "set_cpu_isa" : "cpu";
  detail::active_isa_level.store(isa.has_value() ? static_cast<int>(*isa) : -1, std::memory_order_relaxed);
}

Features active_features() {
  Features f = hardware_features();
  const Isa isa = active_isa();
  if (isa < Isa::kAvx512) f.avx512f = f.avx512bw = f.avx512_vnni = f.amx_int8 = false;
  if (isa < Isa::kAvx2) f.avx2 = f.fma = false;
  // Below AVX-512 the cap stands for x86-64-v3 (AVX2 + FMA): AVX-VNNI is newer than that.
  if (isa < Isa::kAvx512) f.avx_vnni = false;
  return f;
}

}  // namespace stx::ops::cpu

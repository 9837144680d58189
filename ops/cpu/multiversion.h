#pragma once
// Multi-versioned CPU kernels. A kernel body file (ops/cpu/*_body.inc, no include guard) is
// included once per instruction set inside namespace avx512 / avx2 / baseline with STX_TARGET set
// to the matching target attribute, so each hot loop is compiled for AVX-512, AVX2 and baseline
// x86-64 while libstx itself is built without -march flags and runs on any x86-64.
// STX_DISPATCH(fn, args...) returns the version of cpu::active_isa(): the best level the CPU has
// (cpuinfo), capped by STX_CPU_ISA or stx::ops::set_cpu_isa. Unlike GCC target_clones, which
// fixes the choice at load time, the level can be changed at run time, so tests run each version
// and check that they agree. Other compilers/architectures compile three identical versions.
#include "ops/cpu/cpu_features.h"

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define STX_TARGET_AVX512 __attribute__((target("avx512f")))
#define STX_TARGET_AVX2 __attribute__((target("avx2")))
#else
#define STX_TARGET_AVX512
#define STX_TARGET_AVX2
#endif

#define STX_DISPATCH(fn, ...)                        \
  switch (::stx::ops::cpu::active_isa()) {           \
    case ::stx::ops::cpu::Isa::kAvx512:              \
      return avx512::fn(__VA_ARGS__);                \
    case ::stx::ops::cpu::Isa::kAvx2:                \
      return avx2::fn(__VA_ARGS__);                  \
    case ::stx::ops::cpu::Isa::kBaseline:            \
      break;                                         \
  }                                                  \
  return baseline::fn(__VA_ARGS__)

#pragma once
// STX_MULTIVERSION: compile a hot loop for AVX-512, AVX2 and baseline x86-64 and pick the best at
// load time (GCC function multi-versioning, an ifunc), so libstx is built without -march flags and
// still runs on any x86-64. Other compilers/architectures get the single baseline version.
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define STX_MULTIVERSION __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define STX_MULTIVERSION
#endif

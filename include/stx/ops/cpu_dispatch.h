#pragma once
// CPU dispatch of stx's own kernels: which instruction set the multi-versioned row kernels run at
// and which fast paths the CPU ops take on the machine at hand. Docs: docs/ops/retrieval.md
// ("CPU dispatch").
#include <string>

#include <stx/stx.h>

namespace stx::ops {

// A JSON object: the CPU model and ISA features cpuinfo reports ("features"), those stx uses
// ("active_features": capped by the active level), the level of the row kernels ("isa", with
// "isa_source" and "isa_hardware") and each dispatch decision ("cosine_topk_int8_screen",
// "int8_gemm"). With calibrate = true the one-time int8 GEMM calibration runs first (if the
// features allow it), so the screen decision is final. Also torch.ops.stx._cpu_dispatch(calibrate).
STX_API std::string cpu_dispatch_report(bool calibrate = false);

// Forces the instruction set of the row kernels: "avx512", "avx2", "baseline", or "auto" (the
// CPU's best, capped by STX_CPU_ISA). Every level gives bit-identical results; a level the CPU
// lacks is an error. Lower levels also mask the features above them (AVX2 = x86-64-v3, no VNNI or
// AMX), so fast paths that need them are dispatched away. Returns the previous level. For tests
// and benchmarks; also torch.ops.stx._set_cpu_isa(isa).
STX_API std::string set_cpu_isa(const std::string& isa);

}  // namespace stx::ops

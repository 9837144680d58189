"""`--emulate-avx2`: run a benchmark as on an AVX2-only x86-64 CPU (no AVX-512, no VNNI, no AMX,
e.g. AMD Zen 3) on a machine that has more. Must be applied before torch (or faiss) is imported:
each library reads its switch once, at load time. What is emulated is the code every library
picks; the CPU underneath (clock, caches, memory) stays the host's, so timings are indicative of
the dispatch, not of a real AVX2 machine."""
from __future__ import annotations

import os
import sys

AVX2_ONLY = {
    "STX_CPU_ISA": "avx2",  # stx: AVX2 row kernels; VNNI/AMX masked, so no int8 screen
    "ATEN_CPU_CAPABILITY": "avx2",  # ATen's vectorised kernels (normalize, topk, ...)
    "MKL_ENABLE_INSTRUCTIONS": "AVX2",  # torch's float32 GEMM (MKL)
    "ONEDNN_MAX_CPU_ISA": "AVX2",  # oneDNN (torch's int8 GEMM)
    "OPENBLAS_CORETYPE": "Haswell",  # faiss's GEMM (OpenBLAS)
    "FAISS_OPT_LEVEL": "avx2",  # faiss's own kernels
}


def apply_from_argv() -> bool:
    """Sets AVX2_ONLY in os.environ when --emulate-avx2 is on the command line; returns whether."""
    if "--emulate-avx2" not in sys.argv:
        return False
    os.environ.update(AVX2_ONLY)
    return True

"""The fake (meta) kernels check devices like the real kernels: a meta tensor mixed with CPU
tensors used to reach the fake kernel, which returned uninitialised CPU memory without an error."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch

from op_cases import VALID_CALLS


def _outputs(out):
    return list(out) if isinstance(out, (tuple, list)) else [out]


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_every_op_is_covered_and_meta_only_calls_trace(name):
    op, args = VALID_CALLS[name]()
    want = [o.shape for o in _outputs(op(*args))]
    meta = [a.to("meta") if isinstance(a, torch.Tensor) else a for a in args]
    got = _outputs(op(*meta))
    assert all(o.device.type == "meta" for o in got)
    assert [o.shape for o in got] == want


def test_the_case_list_covers_every_registered_op():
    registered = {n for n in dir(torch.ops.stx) if not n.startswith("__") and hasattr(getattr(torch.ops.stx, n),
                                                                                       "default")}
    # filtered_topk is a C++ composition (no fake kernel); _version / _cuda_version and the CPU dispatch
    # query and override (_cpu_dispatch / _set_cpu_isa) take no tensors; _int8_gemm_avx2 is a CPU-only
    # test hook of one kernel (tests/python/test_int8_screen_avx2.py).
    assert registered - set(VALID_CALLS) <= {"filtered_topk", "_version", "_cuda_version", "_cpu_dispatch",
                                             "_set_cpu_isa", "_int8_gemm_avx2"}


@pytest.mark.parametrize("name", sorted(VALID_CALLS))
def test_a_meta_tensor_mixed_with_cpu_tensors_is_an_error_naming_both(name):
    op, args = VALID_CALLS[name]()
    positions = [i for i, a in enumerate(args) if isinstance(a, torch.Tensor)]
    if len(positions) < 2:
        pytest.skip(f"{name} takes one tensor: there is nothing to mix")
    names = [a.name for a in op.default._schema.arguments]
    for i in positions:
        mixed = list(args)
        mixed[i] = args[i].to("meta")
        with pytest.raises(RuntimeError, match="different devices") as err:
            op(*mixed)
        assert names[i] in str(err.value)


def test_the_shared_crasher_is_fixed():
    crasher = Path(__file__).resolve().parents[3] / "shared" / "crashers" / "ops_meta_mix_uninitialized.py"
    if not crasher.is_file():
        pytest.skip(f"crasher not present at {crasher}")
    r = subprocess.run([sys.executable, str(crasher)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr

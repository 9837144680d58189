"""The int8 screen's AVX2 engine (stx's own vpmaddubsw kernel, used where the CPU has AVX2 but no
VNNI/AMX): the kernel must equal an exact integer product on hostile values, and the screen built
on it must return the float32 top-k exactly, like the oneDNN engine and the float32 GEMM path."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as F

import stx


def report():
    return json.loads(torch.ops.stx._cpu_dispatch(False))


pytestmark = pytest.mark.skipif("avx2" not in report()["features"], reason="CPU without AVX2")


@pytest.fixture
def avx2_screen(monkeypatch):
    """The screen forced on at the AVX2 level: VNNI/AMX masked, so the AVX2 kernel is its engine."""
    torch.ops.stx._set_cpu_isa("avx2")
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "1")
    assert report()["int8_gemm"]["engine"] == "avx2_maddubs"
    yield
    torch.ops.stx._set_cpu_isa("auto")


@pytest.mark.parametrize("M,N,D", [(1, 1, 1), (3, 7, 5), (4, 16, 32), (9, 33, 33), (13, 50, 255), (5, 17, 257)])
def test_kernel_equals_the_exact_integer_product(M, N, D):
    g = torch.Generator().manual_seed(M * 1000 + N + D)
    a = torch.randint(-63, 64, (M, D), generator=g, dtype=torch.int8)
    b = torch.randint(-127, 128, (N, D), generator=g, dtype=torch.int8)
    got = torch.ops.stx._int8_gemm_avx2(a, b)
    assert got.dtype == torch.int32 and torch.equal(got.long(), a.long() @ b.long().T)


def test_kernel_extremes_do_not_saturate():
    # Largest pair sums vpmaddubsw sees: (63 + 64) * 127 * 2 = 32258 and (-63 + 64) * -127 * 2.
    D = 300
    a = torch.tensor([[63] * D, [-63] * D, [63, -63] * (D // 2), [0] * D], dtype=torch.int8)
    b = torch.tensor([[127] * D, [-127] * D, [127, -127] * (D // 2), [-127, 127] * (D // 2)], dtype=torch.int8)
    assert torch.equal(torch.ops.stx._int8_gemm_avx2(a, b).long(), a.long() @ b.long().T)


def reference(query, bank, k, mask=None, exclude_self=False):
    """torch.topk of the normalised product in float64 (excluded rows at -inf)."""
    s = F.normalize(query.double(), dim=1) @ F.normalize(bank.double(), dim=1).T
    if mask is not None:
        s[:, ~mask] = float("-inf")
    if exclude_self:
        n = min(s.shape)
        s[torch.arange(n), torch.arange(n)] = float("-inf")
    return torch.topk(s, k, dim=1)


def assert_same_topk(got, ref, atol=1e-6):
    """Scores equal to float32 rounding; every index clearly inside the reference top-k is returned
    (indices tied with the k-th score to atol may legitimately differ)."""
    (gs, gi), (rs, ri) = got, ref
    assert torch.allclose(gs.double(), rs, atol=atol, rtol=0)
    for q in range(ri.shape[0]):
        sure = set(ri[q][rs[q] > rs[q, -1] + atol].tolist())
        assert sure <= set(gi[q].tolist()), f"query {q}: a clear top-k member is missing"


def adversarial_case(name):
    g = torch.Generator().manual_seed(7)
    mask, self_ex, k = None, False, 25
    if name == "random_odd_depth":  # D not a multiple of 4 or 32
        query, bank = torch.randn(67, 45, generator=g), torch.randn(3001, 45, generator=g)
    elif name == "small_odd":
        query, bank, k = torch.randn(3, 33, generator=g), torch.randn(7, 33, generator=g), 5
    elif name == "duplicates_and_zeros":
        bank = torch.randn(2003, 37, generator=g)
        bank[::7] = 0
        bank[100:180] = bank[3]
        query = torch.cat([bank[:9], torch.zeros(2, 37), torch.randn(6, 37, generator=g)])
        k = 100
    elif name == "near_ties":  # many rows within 1e-4 of each other: the screen's bands are full
        centres = torch.randn(8, 64, generator=g)
        bank = centres.repeat(250, 1) + 1e-4 * torch.randn(2000, 64, generator=g)
        query = centres[:5] + 0.01 * torch.randn(5, 64, generator=g)
        k = 300
    elif name == "large_magnitude_spread":  # one huge coordinate: coarse quantisation of the rest
        query, bank = torch.randn(21, 96, generator=g), torch.randn(1500, 96, generator=g)
        query[:, 0] *= 1e3
        bank[::3, 5] *= 1e4
    else:  # mask_and_self
        bank = torch.randn(1999, 40, generator=g)
        query = bank[:31].clone()
        mask, self_ex = torch.rand(1999, generator=g) > 0.3, True
    return query, bank, k, mask, self_ex


CASES = ["random_odd_depth", "small_odd", "duplicates_and_zeros", "near_ties", "large_magnitude_spread",
         "mask_and_self"]


@pytest.mark.parametrize("case", CASES)
def test_avx2_screen_returns_the_float32_topk(monkeypatch, avx2_screen, case):
    query, bank, k, mask, self_ex = adversarial_case(case)
    got = stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex)
    assert_same_topk(got, reference(query, bank, k, mask, self_ex))
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "0")
    plain = stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex)
    assert torch.allclose(plain[0], got[0], atol=1e-6, rtol=0)
    assert_same_topk(plain, reference(query, bank, k, mask, self_ex))


@pytest.mark.parametrize("case", CASES)
def test_both_int8_engines_give_identical_results(monkeypatch, case):
    # Both engines rescore their candidates with the same exact dot product, so the results are
    # bit-identical although the AVX2 engine screens with coarser (7-bit) queries.
    if not report()["int8_gemm"]["dot_product_isa"]:
        pytest.skip("no VNNI/AMX: the oneDNN engine is not a candidate here")
    query, bank, k, mask, self_ex = adversarial_case(case)
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "1")
    onednn = stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex)
    torch.ops.stx._set_cpu_isa("avx2")
    try:
        assert report()["int8_gemm"]["engine"] == "avx2_maddubs"
        avx2 = stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex)
    finally:
        torch.ops.stx._set_cpu_isa("auto")
    assert torch.equal(onednn[0], avx2[0]) and torch.equal(onednn[1], avx2[1])


def test_stx_cpu_isa_avx2_process_uses_the_avx2_engine():
    # As on an AVX2-only CPU: a fresh process capped by STX_CPU_ISA=avx2 calibrates the AVX2 kernel,
    # reports it, and its forced screen returns the float32 path's top-k.
    code = (
        "import json, torch, stx\n"
        "r = json.loads(torch.ops.stx._cpu_dispatch(True))\n"
        "g = torch.Generator().manual_seed(1)\n"
        "q, b = torch.randn(40, 70, generator=g), torch.randn(4001, 70, generator=g)\n"
        "import os; os.environ['STX_COSINE_TOPK_SCREEN'] = '1'\n"
        "s1, i1 = stx.ops.cosine_topk(q, b, 17)\n"
        "os.environ['STX_COSINE_TOPK_SCREEN'] = '0'\n"
        "s0, i0 = stx.ops.cosine_topk(q, b, 17)\n"
        "print(json.dumps({'gemm': r['int8_gemm'], 'screen': r['cosine_topk_int8_screen'],\n"
        "                  'same': bool(torch.equal(i0, i1)), 'close': bool(torch.allclose(s0, s1, atol=1e-6))}))\n"
    )
    env = dict(os.environ, STX_CPU_ISA="avx2")
    env.pop("STX_COSINE_TOPK_SCREEN", None)
    out = json.loads(subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True,
                                    check=True).stdout)
    gemm = out["gemm"]
    assert gemm["engine"] == "avx2_maddubs" and not gemm["dot_product_isa"] and gemm["calibrated"]
    assert gemm["avx2_speedup"] > 0 and gemm["required_speedup"] == 1.3
    assert gemm["fast"] == (gemm["avx2_speedup"] >= 1.3)
    assert out["screen"].startswith("on" if gemm["fast"] else "off"), out
    assert "avx2_maddubs" in out["screen"]
    assert out["same"] and out["close"], out

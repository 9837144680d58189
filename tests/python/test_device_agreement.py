"""The agreement/determinism helpers of the CUDA tests, run on the CPU: they pass on agreeing
results and fail on a disagreement, so a green CUDA run means something."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic, bit_identical, deterministic_algorithms, run


def test_run_returns_outputs_and_gradients_on_the_cpu():
    x = torch.randn(4, 3, dtype=torch.float64)
    outs, grads = run(lambda a, n: (a * n, torch.arange(n)), [x, 2], "cpu", grad_inputs=[0])
    assert len(outs) == 2 and torch.equal(outs[0], x * 2) and torch.equal(outs[1], torch.arange(2))
    cot = torch.randn(4, 3, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    torch.testing.assert_close(grads[0], 2 * cot)  # d(a * 2)/da applied to the fixed cotangent
    assert not x.requires_grad  # inputs are copied, never modified


def test_assert_agree_passes_on_an_op_and_fails_on_a_disagreement():
    dense = torch.randn(1, 2, 8, 8, dtype=torch.float64)
    centers = torch.tensor([[3.0, 4.0], [6.5, 1.0]], dtype=torch.float64)
    radii = torch.tensor([2.0, 1.5], dtype=torch.float64)
    assert_agree(lambda d: stx.ops.spot_pool(d, centers, radii, return_coverage=True), [dense], "cpu", grad_inputs=[0])

    calls = []

    def drifting(x):  # the second call (the "device" run) is off by 1e-3
        calls.append(1)
        return x * (1 + 1e-3 * (len(calls) - 1))

    with pytest.raises(AssertionError):
        assert_agree(drifting, [dense], "cpu")
    calls.clear()
    with pytest.raises(AssertionError):
        assert_agree(drifting, [dense], "cpu", grad_inputs=[0], rtol=0, atol=0)
    with pytest.raises(AssertionError, match="elements differ"):
        assert_agree(lambda i: i + len(calls.append(1) or calls), [torch.arange(3)], "cpu")


def test_assert_deterministic_catches_a_varying_result():
    x = torch.randn(5, dtype=torch.float64)
    assert_deterministic(lambda a: (a.sum(), a.cumsum(0)), [x], "cpu", grad_inputs=[0])
    noise = torch.Generator().manual_seed(1)
    with pytest.raises(AssertionError, match="differs"):
        assert_deterministic(lambda a: a + torch.rand(5, generator=noise, dtype=a.dtype), [x], "cpu")


def test_bit_identical_and_the_deterministic_switch():
    assert bit_identical(torch.tensor([float("nan"), 1.0]), torch.tensor([float("nan"), 1.0]))
    assert not bit_identical(torch.tensor([0.0]), torch.tensor([-0.0]))
    assert not bit_identical(torch.tensor([1.0]), torch.tensor([1.0], dtype=torch.float64))
    before = torch.are_deterministic_algorithms_enabled()
    with deterministic_algorithms():
        assert torch.are_deterministic_algorithms_enabled()
    assert torch.are_deterministic_algorithms_enabled() == before

"""soft_labels on CUDA against the CPU kernel, forward and gradients: every weighting, with and
without keep, rows without neighbours, all-negative scores (uniform fallback), nothing kept, many
neighbours pointing at the same bank row (the accumulating backward); runs bit-identical."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic
from test_soft_labels import make_inputs

pytestmark = pytest.mark.cuda

WEIGHTINGS = ["mean", "similarity", "softmax"]


def soft(weighting, temperature=0.7):
    return lambda index, scores, keep, bank: stx.ops.soft_labels(index, scores, keep, bank, weighting, temperature)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
@pytest.mark.parametrize("use_keep", [True, False])
@pytest.mark.parametrize("size", ["small", "large"])
def test_forward_and_gradients_agree(gpu, weighting, use_keep, size):
    kw = {} if size == "small" else {"Q": 500, "k": 64, "N": 3000, "G": 48}
    index, scores, keep, bank = make_inputs(11, **kw)
    inputs = [index, scores, keep if use_keep else None, bank]
    assert_agree(soft(weighting), inputs, gpu, grad_inputs=[1, 3], rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("weighting", WEIGHTINGS)
def test_hot_bank_rows_and_float32_agree(gpu, weighting):
    """Every neighbour of every query is one of 3 bank rows: the backward sums thousands of terms into each."""
    index, scores, keep, bank = make_inputs(12, Q=400, k=40, N=500, G=16)
    index = index.clamp_min(0) % 3
    assert_agree(soft(weighting, 0.3), [index, scores, keep, bank], gpu, grad_inputs=[1, 3], rtol=1e-10, atol=1e-10)
    assert_agree(soft(weighting, 0.3), [index, scores.float(), keep, bank.float()], gpu, grad_inputs=[1, 3],
                 rtol=1e-4, atol=1e-4)


def test_empty_inputs_agree(gpu):
    index, scores, keep, bank = make_inputs(13)
    assert_agree(soft("softmax"), [index[:0], scores[:0], keep[:0], bank], gpu, grad_inputs=[1, 3])  # Q = 0
    assert_agree(soft("mean"), [index, scores, keep, bank[:, :0]], gpu)  # G = 0


def test_runs_are_bit_identical(gpu):
    index, scores, keep, bank = make_inputs(14, Q=800, k=32, N=200, G=64)
    for weighting in WEIGHTINGS:
        assert_deterministic(soft(weighting), [index, scores.float(), keep, bank.float()], gpu, grad_inputs=[1, 3])

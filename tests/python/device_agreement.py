"""CPU <-> device agreement and run-to-run determinism, shared by the CUDA tests (test_cuda_*.py).

The helpers take the device as an argument, so test_device_agreement.py runs them on the CPU:
they cannot rot on a machine without a GPU, and that test shows they catch a disagreement.
"""
from __future__ import annotations

import contextlib
from typing import Callable, Sequence

import torch

Outputs = list[torch.Tensor]


def _tensors(out) -> Outputs:
    if isinstance(out, torch.Tensor):
        return [out]
    return [t for t in out if isinstance(t, torch.Tensor)]


def run(fn: Callable, inputs: Sequence, device, grad_inputs: Sequence[int] = (), seed: int = 0) -> tuple[Outputs, Outputs]:
    """Runs ``fn(*inputs)`` on fresh copies of the inputs on ``device``. With ``grad_inputs`` (positions
    of floating inputs), back-propagates a fixed random cotangent through every output that requires
    grad. Returns (outputs, gradients of the grad_inputs; zeros where none flowed), all on the CPU."""
    args = [x.detach().clone().to(device) if isinstance(x, torch.Tensor) else x for x in inputs]
    for i in grad_inputs:
        args[i].requires_grad_(True)
    outs = _tensors(fn(*args))
    grads: Outputs = []
    if grad_inputs:
        gen = torch.Generator().manual_seed(seed)
        pairs = [(o, torch.randn(o.shape, generator=gen, dtype=torch.float64).to(o.dtype).to(o.device))
                 for o in outs if o.requires_grad]
        assert pairs, "no output requires grad"
        torch.autograd.backward([o for o, _ in pairs], [c for _, c in pairs])
        grads = [(args[i].grad if args[i].grad is not None else torch.zeros_like(args[i])).detach().cpu()
                 for i in grad_inputs]
    return [o.detach().cpu() for o in outs], grads


def assert_same(got: Outputs, expected: Outputs, rtol=None, atol=None) -> None:
    """Floating tensors close (NaN where the reference is NaN), everything else equal."""
    assert len(got) == len(expected), f"{len(got)} outputs, expected {len(expected)}"
    for n, (a, b) in enumerate(zip(got, expected)):
        assert a.shape == b.shape and a.dtype == b.dtype, f"output {n}: {a.dtype}{tuple(a.shape)} vs {b.dtype}{tuple(b.shape)}"
        if a.is_floating_point():
            tol = {} if rtol is None else {"rtol": rtol, "atol": atol}
            torch.testing.assert_close(a, b, equal_nan=True, msg=lambda m, n=n: f"output {n}: {m}", **tol)
        else:
            assert torch.equal(a, b), f"output {n}: {(a != b).sum().item()} of {a.numel()} elements differ"


def assert_agree(fn: Callable, inputs: Sequence, device, grad_inputs: Sequence[int] = (), rtol=None, atol=None,
                 reference_device="cpu") -> tuple[Outputs, Outputs]:
    """``fn`` on ``device`` gives the outputs (and gradients) it gives on ``reference_device``."""
    ref_out, ref_grad = run(fn, inputs, reference_device, grad_inputs)
    out, grad = run(fn, inputs, device, grad_inputs)
    assert_same(out, ref_out, rtol, atol)
    assert_same(grad, ref_grad, rtol, atol)
    return out, grad


@contextlib.contextmanager
def deterministic_algorithms():
    """``torch.use_deterministic_algorithms(True)`` inside the block (an op that has no deterministic
    path raises instead of running), restored afterwards."""
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    try:
        yield
    finally:
        torch.use_deterministic_algorithms(before)


def bit_identical(a: torch.Tensor, b: torch.Tensor) -> bool:
    """Same dtype, shape and bytes (so NaN == NaN and -0.0 != 0.0)."""
    if a.dtype != b.dtype or a.shape != b.shape:
        return False
    a, b = a.contiguous().view(-1), b.contiguous().view(-1)
    if a.dtype == torch.bool:
        return torch.equal(a, b)
    return torch.equal(a.view(torch.uint8), b.view(torch.uint8))


def assert_deterministic(fn: Callable, inputs: Sequence, device, grad_inputs: Sequence[int] = (), runs: int = 3) -> None:
    """Under deterministic algorithms, ``runs`` calls give bit-identical outputs and gradients."""
    with deterministic_algorithms():
        first_out, first_grad = run(fn, inputs, device, grad_inputs)
        for r in range(1, runs):
            out, grad = run(fn, inputs, device, grad_inputs)
            for n, (a, b) in enumerate(zip(first_out + first_grad, out + grad)):
                assert bit_identical(a, b), f"run {r}: tensor {n} differs from run 0"

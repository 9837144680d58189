"""Fake (meta) kernels for torch.compile / FakeTensor tracing of the torch.ops.stx operators.

Each op family keeps its fake functions in its own ``stx/_fake_<family>.py``, registered with
:func:`register_fake` below; importing this module imports them all.
"""
from __future__ import annotations

import functools
import inspect

import torch


def _tensors(name: str, value):
    if isinstance(value, torch.Tensor):
        yield name, value
    elif isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            if isinstance(item, torch.Tensor):
                yield f"{name}[{i}]", item


def check_one_device(op: str, arguments: dict) -> None:
    """Raise RuntimeError naming the arguments when the tensors of one call are on different
    devices. Every stx kernel requires one device; a meta tensor mixed with CPU tensors dispatches
    to the fake kernel, which must reject it like the real kernels do instead of returning
    uninitialised memory on the other device."""
    first = None
    for name, value in arguments.items():
        for arg, t in _tensors(name, value):
            if first is None:
                first = (arg, t.device)
            elif t.device != first[1]:
                raise RuntimeError(f"{op}: tensors are on different devices: {first[0]} is on {first[1]} but {arg} is "
                                   f"on {t.device} (all tensor arguments must be on one device)")


def register_fake(op: str):
    """``torch.library.register_fake(op)`` with the device check every stx kernel makes."""
    def decorate(fn):
        signature = inspect.signature(fn)

        @functools.wraps(fn)
        def checked(*args, **kwargs):
            check_one_device(op, signature.bind(*args, **kwargs).arguments)
            return fn(*args, **kwargs)

        torch.library.register_fake(op)(checked)
        return checked
    return decorate


# The families' fake kernels register themselves through register_fake above.
from stx import (  # noqa: E402,F401
    _fake_cell_typing,
    _fake_instance_metrics,
    _fake_losses,
    _fake_metrics,
    _fake_nucleus_maps,
    _fake_retrieval,
    _fake_spot_pool,
)

"""Fake (meta) kernels for torch.compile / FakeTensor tracing of the torch.ops.stx operators.

Each module registers the ``torch.library.register_fake`` functions of its ops; importing this
module imports them all.
"""
from __future__ import annotations

from stx import _fake_losses, _fake_metrics, _fake_retrieval, _fake_spot_pool  # noqa: F401

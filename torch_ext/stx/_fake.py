"""Fake (meta) kernels for torch.compile / FakeTensor tracing of the torch.ops.stx operators.

Each op family keeps its ``torch.library.register_fake`` functions in its own
``stx/_fake_<family>.py``; importing this module imports them all.
"""
from __future__ import annotations

import importlib
from pathlib import Path

for _path in sorted(Path(__file__).resolve().parent.glob("_fake_*.py")):
    importlib.import_module(f"stx.{_path.stem}")

"""Python entry points for the ``torch.ops.stx`` operators: defaults, docstrings, and argument
normalisation around the dispatched ops. Each op family lives in its own module here and lists
its public names in ``__all__``; this package re-exports them all.
"""
from __future__ import annotations

import importlib
from pathlib import Path

__all__: list[str] = []
for _path in sorted(Path(__file__).resolve().parent.glob("[a-z]*.py")):
    _module = importlib.import_module(f"{__name__}.{_path.stem}")
    for _name in getattr(_module, "__all__", []):
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)

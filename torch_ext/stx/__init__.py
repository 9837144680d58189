"""stx: spatial-transcriptomics operators, modules, environments and readers for PyTorch.

``import stx`` loads ``libstx`` (the same library C++ programs link with ``find_package(stx)``)
and makes the operators available as ``torch.ops.stx.*``.
"""
from __future__ import annotations

import os as _os

import torch as _torch

from stx import _library

_library.load()
_C = _library.load_binding_module()  # after libstx: _C links the same file
from stx import _fake  # noqa: E402,F401  (fake kernels for torch.compile)
from stx import ops  # noqa: E402,F401  (Python entry points of the operators)

__version__: str = _torch.ops.stx._version()
if __version__ != _C.library_version():  # pragma: no cover - a broken install
    raise ImportError(f"stx: libstx {__version__} and stx._C {_C.library_version()} differ")


def library_path() -> str:
    """Path of the loaded ``libstx`` (pass it to ``torch.ops.load_library`` if you load it yourself)."""
    return _library.library_path()


def has_cuda() -> bool:
    """True when libstx was built with its CUDA kernels (a GPU is still needed to run them)."""
    return _torch.ops.stx._cuda_version() >= 0


def has_data() -> bool:
    """True when libstx was built with its data layer (``STX_WITH_DATA=ON``, the default): the readers
    of ``stx.data``. Without it, ops, modules and envs work and ``stx.data`` raises a clear error."""
    return hasattr(_C, "data")


def cmake_prefix_path() -> str:
    """Prefix to add to ``CMAKE_PREFIX_PATH`` so ``find_package(stx)`` finds this installation."""
    return str(_library.package_binary_dir())


__all__ = ["__version__", "library_path", "has_cuda", "has_data", "cmake_prefix_path"]
try:
    from stx import envs  # noqa: E402,F401  (registers stx/SpotSampling-v0 with gymnasium)
except ModuleNotFoundError as _error:  # the ops and modules do not need gymnasium (e.g. a bare GPU image)
    if _error.name != "gymnasium":
        raise
if has_data():  # else `import stx.data` raises a clear ImportError
    from stx import data  # noqa: E402,F401  (readers, preprocessing, synthetic study, slides)
from stx import modules  # noqa: E402,F401  (C++ nn modules: SCR2Net, dense head, patch regressor)

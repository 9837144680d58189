"""Locate and load libstx exactly once.

The operators live in one shared library, ``libstx.so``, the same file that C++ programs link
through ``find_package(stx)``. Python loads it with ``torch.ops.load_library``; the binding module
``stx._C`` links that same file (rpath ``$ORIGIN/lib``), so the registrations run once per process.
"""
from __future__ import annotations

import os
from pathlib import Path

import torch

_LIB_NAME = "libstx.so"


def package_binary_dir() -> Path:
    """Directory holding ``_C`` and ``lib/libstx.so``.

    ``STX_BUILD_DIR`` (a CMake build directory) takes precedence, so a developer can run the
    Python package straight from a build tree; otherwise it is the installed package directory.
    """
    build_dir = os.environ.get("STX_BUILD_DIR")
    if build_dir:
        path = Path(build_dir).resolve() / "stx"
        if not (path / "lib" / _LIB_NAME).is_file():
            raise ImportError(f"STX_BUILD_DIR={build_dir!r} has no stx/lib/{_LIB_NAME}; build it first")
        return path
    import importlib.util

    spec = importlib.util.find_spec("stx._C")
    if spec is None or spec.origin is None:
        raise ImportError(
            "stx's native module stx._C is not built or installed; run `make test` or "
            "`pip install --no-build-isolation -e .` from the stx checkout"
        )
    return Path(spec.origin).resolve().parent


def library_path() -> str:
    """Absolute path of the libstx shared library that holds the ``torch.ops.stx`` operators."""
    path = package_binary_dir() / "lib" / _LIB_NAME
    if not path.is_file():
        raise ImportError(f"libstx not found at {path}")
    return str(path)


def load() -> str:
    """Load libstx into this process (idempotent) and return its path."""
    path = library_path()
    # torch.ops.load_library dlopens the file; a second call with the same file is a no-op
    # for the dynamic loader and for torch, so the TORCH_LIBRARY block runs once.
    if path not in torch.ops.loaded_libraries:
        torch.ops.load_library(path)
    return path


def load_binding_module():
    """Import ``stx._C`` from the same directory as the loaded libstx.

    With ``STX_BUILD_DIR`` set, the build tree's ``_C`` is loaded explicitly, so an installed
    (e.g. editable) copy can never shadow it.
    """
    import importlib
    import importlib.util
    import sys

    if not os.environ.get("STX_BUILD_DIR"):
        return importlib.import_module("stx._C")
    if "stx._C" in sys.modules:
        return sys.modules["stx._C"]
    candidates = sorted(package_binary_dir().glob("_C.*.so"))
    if not candidates:
        raise ImportError(f"no stx/_C*.so in STX_BUILD_DIR={os.environ['STX_BUILD_DIR']!r}")
    spec = importlib.util.spec_from_file_location("stx._C", candidates[0])
    module = importlib.util.module_from_spec(spec)
    sys.modules["stx._C"] = module
    spec.loader.exec_module(module)
    return module

"""The package loads libstx once, exposes its metadata, and survives double loading."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch

import stx


def test_version_and_cuda_flag():
    assert stx.__version__ == (Path(__file__).resolve().parents[2] / "VERSION").read_text().strip()
    assert isinstance(stx.has_cuda(), bool)
    assert stx.has_cuda() == (torch.ops.stx._cuda_version() >= 0)


def test_library_path_is_the_loaded_file():
    path = stx.library_path()
    assert os.path.isfile(path) and path.endswith("libstx.so")
    assert path in torch.ops.loaded_libraries
    # loading again (as a user who loads it by hand would) is a no-op
    torch.ops.load_library(path)
    assert torch.ops.stx._version() == stx.__version__


def _run(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=os.environ.copy(), timeout=300)


def test_import_twice_and_load_after_import_in_fresh_process():
    code = (
        "import importlib, torch, stx\n"
        "importlib.reload(stx)\n"
        "import stx as again\n"
        "torch.ops.load_library(stx.library_path())\n"
        "print(stx.__version__, stx.has_cuda())\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0] == stx.__version__


def test_load_library_before_import():
    # A user who loads the library first and imports stx afterwards gets the same single copy.
    code = (
        "import torch\n"
        f"torch.ops.load_library({stx.library_path()!r})\n"
        "import stx\n"
        "print(torch.ops.stx._version())\n"
    )
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == stx.__version__


def test_cmake_prefix_contains_package_config():
    prefix = Path(stx.cmake_prefix_path())
    # the editable/wheel install carries the CMake package; a raw build tree does not
    if not os.environ.get("STX_BUILD_DIR"):
        assert (prefix / "lib" / "cmake" / "stx" / "stxConfig.cmake").is_file()
        assert (prefix / "include" / "stx" / "stx.h").is_file()


def test_readme_python_example():
    dense = torch.randn(1, 8, 128, 128, requires_grad=True)
    centers = torch.tensor([[0, 40.0, 50.0], [0, 90.5, 80.25]])
    radii = torch.tensor([10.0, 10.0])
    spots = torch.ops.stx.spot_pool(dense, centers, radii, "disk", "sum", 0.5)[0]
    spots.sum().backward()
    assert spots.shape == (2, 8)
    # every channel of every covered pixel receives gradient 1 (the spots do not overlap)
    covered = torch.ops.stx.spot_pool(torch.ones(1, 1, 128, 128), centers, radii, "disk", "sum", 0.5)[1]
    assert dense.grad.sum().item() == 8 * covered.sum().item()
    net = stx.modules.SCR2Net(num_genes=8)
    assert isinstance(net, torch.nn.Module)

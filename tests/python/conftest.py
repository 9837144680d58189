"""Shared pytest fixtures and policies for the stx test suite.

- ``cuda`` tests (marked ``cuda``, or parametrised with ``devices()``, whose ``"cuda"`` case carries the
  mark) skip cleanly without a GPU or without libstx's CUDA kernels; ``pytest -m cuda`` selects them all.
- ``realdata`` tests read third-party files from ``STX_DATA`` (default ``../shared/data``); they
  skip with a clear message when it is absent, except under CI (``CI=true``), where a skipped
  real-data test fails the run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

# cuBLAS is deterministic only with a fixed workspace; torch.use_deterministic_algorithms(True) refuses
# GEMMs on CUDA without it. Set before any CUDA work (the value torch's reproducibility notes give).
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import stx  # noqa: E402  (loads libstx and the torch.ops.stx registrations)

REPO_ROOT = Path(__file__).resolve().parents[2]
_skipped_realdata: list[str] = []


def data_root() -> Path:
    return Path(os.environ.get("STX_DATA", REPO_ROOT.parent / "shared" / "data")).resolve()


@pytest.fixture(scope="session")
def stx_data() -> Path:
    """Root of the real third-party data; skips (or fails under CI) when it is missing."""
    root = data_root()
    if not root.is_dir():
        pytest.skip(f"real data not found at {root} (set STX_DATA to the shared/data folder)")
    return root


def cuda_skip_reason() -> str | None:
    """Why the CUDA tests cannot run here, or None when they can."""
    if not torch.cuda.is_available():
        return "no CUDA device"
    if not stx.has_cuda():
        return "libstx was built without its CUDA kernels (STX_WITH_CUDA=OFF)"
    return None


# The device the test_cuda_* files compare with the CPU. STX_CUDA_TEST_DEVICE=cpu runs their bodies
# against the CPU instead, so a machine without a GPU (the dry run of scripts/device_check.sh) can
# show that they execute; only a GPU makes them a check of the CUDA kernels.
CUDA_TEST_DEVICE = os.environ.get("STX_CUDA_TEST_DEVICE", "cuda")


@pytest.fixture
def gpu() -> str:
    """The device under test of the test_cuda_* files (see CUDA_TEST_DEVICE)."""
    return CUDA_TEST_DEVICE


def devices() -> list:
    """``cpu`` and ``cuda`` for ``@pytest.mark.parametrize("device", devices())``; the CUDA case is
    always collected (so ``pytest -m cuda --collect-only`` counts it) and skipped where it cannot run."""
    return ["cpu", pytest.param("cuda", marks=pytest.mark.cuda)]


def pytest_collection_modifyitems(config, items):
    reason = cuda_skip_reason()
    if reason is None:
        return
    skip_cuda = pytest.mark.skip(reason=reason)
    for item in items:
        on_cpu = CUDA_TEST_DEVICE == "cpu" and "gpu" in getattr(item, "fixturenames", ())
        if item.get_closest_marker("cuda") is not None and not on_cpu:
            item.add_marker(skip_cuda)


def pytest_runtest_logreport(report):
    if report.skipped and "realdata" in report.keywords:
        _skipped_realdata.append(report.nodeid)


def pytest_sessionfinish(session, exitstatus):
    if os.environ.get("CI", "").lower() == "true" and _skipped_realdata:
        print(f"\nCI: {len(_skipped_realdata)} real-data test(s) were skipped; real data must be present under CI:")
        for nodeid in _skipped_realdata[:20]:
            print(f"  {nodeid}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED

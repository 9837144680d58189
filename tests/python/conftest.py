"""Shared pytest fixtures and policies for the stx test suite.

- ``cuda`` tests skip cleanly without a device.
- ``realdata`` tests read third-party files from ``STX_DATA`` (default ``../shared/data``); they
  skip with a clear message when it is absent, except under CI (``CI=true``), where a skipped
  real-data test fails the run.
"""
from __future__ import annotations

import os
from pathlib import Path

import pytest
import torch

import stx  # noqa: F401  (loads libstx and the torch.ops.stx registrations)

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


def devices() -> list[str]:
    return ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])


def pytest_collection_modifyitems(config, items):
    skip_cuda = pytest.mark.skip(reason="no CUDA device")
    for item in items:
        if "cuda" in item.keywords and not torch.cuda.is_available():
            item.add_marker(skip_cuda)
        callspec = getattr(item, "callspec", None)
        if callspec is not None and callspec.params.get("device") == "cuda" and not torch.cuda.is_available():
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

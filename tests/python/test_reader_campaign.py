"""The corruption campaign (fuzz/reader_campaign.py) at a bounded size, and the kept HDF5 crashers
(../shared/crashers, inputs that killed libhdf5 1.10.8 in-process) as regression tests: each run in
a child process must end by itself with a clean error or a result."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO_ROOT, data_root

CRASHERS = Path(os.environ.get("STX_CRASHERS", data_root().parent / "crashers"))
HDF5_CRASHERS = sorted(p.name for p in CRASHERS.glob("*.h5*")) if CRASHERS.is_dir() else []


def child_env(**extra):
    return {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path), **extra}


@pytest.mark.realdata
def test_campaign_no_crash_no_hang(stx_data, tmp_path):
    per_file = int(os.environ.get("STX_CAMPAIGN_PER_FILE", "6"))
    r = subprocess.run([sys.executable, str(REPO_ROOT / "fuzz/reader_campaign.py"), "--per-file", str(per_file),
                        "--seed", "22", "--timeout", "60", "--data", str(stx_data), "--keep", str(tmp_path)],
                       capture_output=True, text=True, timeout=900, env=child_env())
    summary = re.search(r"(\d+) inputs in .*: (\d+) read, (\d+) clean errors, (\d+) crashes, (\d+) hangs", r.stdout)
    assert summary, r.stdout + r.stderr
    total, _, errors, crashes, hangs = map(int, summary.groups())
    assert (crashes, hangs) == (0, 0), r.stdout
    assert r.returncode == 0, r.stdout + r.stderr
    assert total >= 20 * per_file and errors > 0  # every target ran and corruptions were refused


@pytest.mark.skipif(not HDF5_CRASHERS, reason=f"no HDF5 crashers in {CRASHERS} (set STX_CRASHERS)")
@pytest.mark.parametrize("name", HDF5_CRASHERS)
def test_hdf5_crasher_ends_cleanly(name):
    path = CRASHERS / name
    reader = "read_h5ad" if name.endswith(".h5ad") else "read_10x_h5"
    code = (f"import stx\nfrom stx import data as sd\ntry:\n    sd.{reader}({str(path)!r})\n    print('READ')\n"
            "except ValueError as e:\n    print('ERR', e)\n")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=child_env())
    assert r.returncode == 0, f"{name}: exit {r.returncode}\n{r.stderr[-2000:]}"
    out = r.stdout.strip()
    assert out == "READ" or (out.startswith("ERR") and name in out), out

"""A normal run prints no beta or deprecation warnings from inside stx.

The run happens in a fresh process (torch's once-per-process notices are only visible there) with
every Python warning turned into an error, and its stderr, where C++ warnings land, must be free of
warnings too: readers that build sparse CSR tensors in C++, preprocessing on CSR, the AnnData
conversions that build CSR in Python, and the main job on a tiny synthetic study.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]

TINY = {"synthetic_sections": 2, "synthetic_image_px": 700, "budgets": [0.5], "samplers": ["random"], "steps": 4,
        "scrl_episodes": 1, "top_genes": 8, "patch_size": 16, "width": 4}


def run_quietly(code: str, tmp_path: Path) -> subprocess.CompletedProcess:
    script = tmp_path / "quiet.py"
    script.write_text("import warnings\nwarnings.simplefilter('error')\n" + textwrap.dedent(code))
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=REPO_ROOT,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr[-6000:]
    for word in ("Warning", "beta", "deprecated"):
        assert word not in proc.stderr, proc.stderr[-6000:]
    return proc


@pytest.mark.realdata
def test_readers_preprocessing_and_anndata_are_quiet(stx_data, tmp_path):
    run_quietly(f"""
        import torch
        import stx
        from stx import data

        sample = data.read_visium({str(stx_data / "visium-seurat")!r})
        assert sample.counts.layout == torch.sparse_csr
        matrix = data.read_10x_h5({str(stx_data / "10x-h5-scanpy" / "3.0.0" / "filtered_feature_bc_matrix.h5")!r})
        assert matrix.counts.layout == torch.sparse_csr
        data.read_visium({str(stx_data / "visium-sfe-sample01")!r}, dense=True)
        normalized = data.normalize_total(sample.counts)
        assert normalized.layout == torch.sparse_csr
        adata = data.to_anndata(sample)
        back = data.from_anndata(adata)
        assert back.counts.layout == torch.sparse_csr
        print("quiet")
    """, tmp_path)


def test_main_job_is_quiet(tmp_path):
    cfg = tmp_path / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    proc = run_quietly(f"""
        from stx.cli import main

        assert main(["demo", "--config", {str(cfg)!r}, "--out", {str(tmp_path / "out")!r}]) == 0
    """, tmp_path)
    assert (tmp_path / "out" / "metrics.json").is_file(), proc.stdout[-2000:]


@pytest.mark.parametrize("import_stx", [False, True])
def test_the_check_sees_the_csr_notice_without_stx(tmp_path, import_stx):
    # The check is not blind: without stx, the first CSR tensor of a process prints torch's notice.
    # libstx takes that notice when it loads, so after `import stx` it is gone for the process.
    script = tmp_path / "loud.py"
    script.write_text("import warnings\nwarnings.simplefilter('error')\nimport torch\n"
                      + ("import stx\n" if import_stx else "") + "torch.eye(2).to_sparse_csr()\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    if import_stx:
        assert proc.returncode == 0 and "beta state" not in proc.stderr, proc.stderr[-3000:]
    else:
        assert proc.returncode != 0 and "beta state" in proc.stderr, proc.stderr[-3000:]

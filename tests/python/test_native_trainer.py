"""The native stx-train program and the Python pipeline train the same model to the same quality."""
from __future__ import annotations

import json
import subprocess

import pytest

import stx
from stx import _library
from stx.cli import main

CONFIG = {"steps": 80, "top_genes": 20, "patch_size": 24, "width": 8, "seed": 0}


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("native")
    stx.data.make_synthetic(root / "study", seed=3, n_sections=3, image_size_px=1100)
    cfg = root / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    return root, root / "study", cfg


def _stx_train():
    path = _library.package_binary_dir() / "bin" / "stx-train"
    assert path.is_file(), f"stx-train not built at {path}"
    return str(path)


@pytest.fixture(scope="module")
def native_run(study):
    root, data, cfg = study
    native = subprocess.run([_stx_train(), "demo", "--data", str(data), "--out", str(root / "native"),
                             "--config", str(cfg)], capture_output=True, text=True, timeout=900)
    assert native.returncode == 0, native.stderr
    return root / "native"


def test_native_and_python_trainers_agree(study, native_run):
    root, data, cfg = study
    native_metrics = json.loads((native_run / "metrics.json").read_text())

    assert main(["train", "--data", str(data), "--sections", "section_0,section_1", "--config", str(cfg),
                 "--out", str(root / "py_train")]) == 0
    assert main(["evaluate", "--checkpoint", str(root / "py_train" / "checkpoint.pt"), "--data", str(data),
                 "--sections", "section_2", "--config", str(cfg), "--out", str(root / "py_eval")]) == 0
    py_metrics = json.loads((root / "py_eval" / "metrics.json").read_text())

    assert native_metrics["n_spots"] == py_metrics["n_spots"]
    assert native_metrics["n_genes"] == py_metrics["n_genes"] == CONFIG["top_genes"]
    # both learn the tissue, and to the same quality within seed noise
    assert native_metrics["pcc_m"] > 0.3 and py_metrics["pcc_m"] > 0.3
    assert abs(native_metrics["pcc_m"] - py_metrics["pcc_m"]) < 0.15


def test_native_trainer_evaluate_and_bad_input(study, native_run, tmp_path):
    root, data, cfg = study
    out = native_run
    ev = subprocess.run([_stx_train(), "evaluate", "--checkpoint", str(out / "checkpoint.pt"), "--data", str(data),
                         "--sections", "section_2", "--config", str(cfg), "--out", str(tmp_path / "ev")],
                        capture_output=True, text=True, timeout=600)
    assert ev.returncode == 0, ev.stderr
    held_out = json.loads((out / "metrics.json").read_text())
    again = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert again["pcc_m"] == pytest.approx(held_out["pcc_m"], abs=1e-9)

    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": 5, "learning_rate": 1}))
    proc = subprocess.run([_stx_train(), "demo", "--data", str(data), "--out", str(tmp_path / "x"), "--config", str(bad)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "learning_rate" in proc.stderr
    proc = subprocess.run([_stx_train(), "demo", "--data", str(data), "--out", str(out), "--config", str(cfg)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 2 and "--force" in proc.stderr

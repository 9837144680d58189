"""`stx-train` and `python -m stx` are two front ends of one training layer: a checkpoint written by
either is evaluated by the other with the same metrics.json keys and values."""
from __future__ import annotations

import json
import subprocess

import pytest
import torch

import stx
from stx import _library
from stx.cli import main

CONFIG = {"steps": 50, "top_genes": 12, "patch_size": 24, "width": 8, "seed": 0}


def stx_train() -> str:
    path = _library.package_binary_dir() / "bin" / "stx-train"
    assert path.is_file(), f"stx-train not built at {path}"
    return str(path)


def native(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([stx_train(), *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("frontends")
    stx.data.make_synthetic(str(root / "study"), seed=3, n_sections=3, image_size_px=1100)
    cfg = root / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    return root, root / "study", cfg


@pytest.fixture(scope="module")
def trained(study):
    """The same training run from each front end: (native out, python out)."""
    root, data, cfg = study
    nat = native("train", "--data", str(data), "--sections", "section_0,section_1", "--config", str(cfg),
                 "--out", str(root / "nat_train"))
    assert nat.returncode == 0, nat.stderr
    assert main(["train", "--data", str(data), "--sections", "section_0,section_1", "--config", str(cfg),
                 "--out", str(root / "py_train")]) == 0
    return root / "nat_train", root / "py_train"


def _metrics(path):
    return json.loads((path / "metrics.json").read_text())


def _assert_same(a: dict, b: dict, tol: float) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if isinstance(a[key], float) or (isinstance(a[key], list) and a[key] and isinstance(a[key][0], float)):
            assert a[key] == pytest.approx(b[key], abs=tol, rel=tol), key
        elif key != "stx_version":
            assert a[key] == b[key], key


def test_both_front_ends_train_the_same_model(trained):
    nat, py = trained
    a, b = _metrics(nat), _metrics(py)
    _assert_same(a, b, 1e-4)
    for key in stx._C.train.metric_keys():
        assert key in a
    assert a["split"] == "train" and a["sections"] == ["section_0", "section_1"] and a["n_genes"] == CONFIG["top_genes"]
    # one checkpoint format: plain data that torch.load reads without running code
    sa = torch.load(nat / "checkpoint.pt", weights_only=True)
    sb = torch.load(py / "checkpoint.pt", weights_only=True)
    assert sa.keys() == sb.keys() and sa["format"] == "stx-checkpoint" and sa["recipe"] == "scr2net"
    assert sa["genes"] == sb["genes"] and sa["config"] == sb["config"] and "train_state" not in sa
    for name in sa["model"]:
        torch.testing.assert_close(sa["model"][name], sb["model"][name], rtol=1e-4, atol=1e-5, msg=name)


@pytest.mark.parametrize("writer", ["native", "python"])
def test_a_checkpoint_from_either_front_end_is_evaluated_by_both(study, trained, writer, tmp_path):
    root, data, cfg = study
    ckpt = (trained[0] if writer == "native" else trained[1]) / "checkpoint.pt"
    nat = native("evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--sections", "section_2",
                 "--config", str(cfg), "--out", str(tmp_path / "nat"))
    assert nat.returncode == 0, nat.stderr
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", str(data), "--sections", "section_2",
                 "--config", str(cfg), "--out", str(tmp_path / "py")]) == 0
    a, b = _metrics(tmp_path / "nat"), _metrics(tmp_path / "py")
    _assert_same(a, b, 1e-9)
    assert a["split"] == "evaluate" and a["sections"] == ["section_2"]
    assert a["pcc_m"] > a["mean_predictor"]["pcc_m"] + 0.2  # it learned the tissue's domains
    assert len(a["pcc_per_gene"]) == len(a["gene_names"]) == CONFIG["top_genes"]


def test_native_holdout_demo(study, tmp_path):
    root, data, cfg = study
    proc = native("demo", "--data", str(data), "--config", str(cfg), "--out", str(tmp_path / "demo"))
    assert proc.returncode == 0, proc.stderr
    m = _metrics(tmp_path / "demo")
    assert m["split"] == "held-out" and m["sections"] == ["section_2"]
    assert m["train_sections"] == ["section_0", "section_1"]
    again = native("demo", "--data", str(data), "--config", str(cfg), "--out", str(tmp_path / "demo"))
    assert again.returncode == 2 and "--force" in again.stderr

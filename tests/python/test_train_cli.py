"""Both front ends on bad input and failing writes: a one-line error and exit code 2 (never a
traceback), an unwritable --out refused before any work, no truncated checkpoint, and a resumable
interrupted run."""
from __future__ import annotations

import json
import os
import subprocess

import pytest
import torch

import stx
from stx import _library
from stx.cli import main
from stx.pipeline.config import PipelineConfig

SMALL = {"steps": 12, "top_genes": 8, "patch_size": 16, "width": 4, "seed": 0}


def stx_train(*args: str) -> subprocess.CompletedProcess:
    exe = _library.package_binary_dir() / "bin" / "stx-train"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=600)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    stx.data.make_synthetic(str(root / "study"), seed=1, n_sections=2, image_size_px=800)
    return root / "study"


def _config(tmp_path, values, name="cfg.json") -> str:
    path = tmp_path / name
    path.write_text(json.dumps(values))
    return str(path)


def _python(argv, capsys) -> tuple[int, str]:
    code = main(argv)
    err = capsys.readouterr().err
    return code, err


def _one_line_error(err: str) -> None:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1 and "error:" in lines[0] and "Traceback" not in err, err


BAD_VALUES = [
    ({"steps": None}, "'steps' must not be null"),
    ({"lr": {"x": 1}}, "'lr' must be a number"),
    ({"seed": -1}, "'seed' must be in"),
    ({"seed": 1.5}, "'seed' must be an integer"),
    ({"seed": 1e23}, "'seed' must be an integer"),
    ({"backbone": "/nonexistent/backbone.pt"}, "neither a native backbone (small_cnn, resnet18"),
]


@pytest.mark.parametrize("values, match", BAD_VALUES)
def test_bad_config_values_give_one_line_errors_in_both_front_ends(study, tmp_path, capsys, values, match):
    cfg = _config(tmp_path, {**SMALL, **values})
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config", cfg,
                         "--out", str(tmp_path / "py")], capsys)
    assert code == 2 and match in err
    _one_line_error(err)
    proc = stx_train("train", "--data", str(study), "--sections", "section_0", "--config", cfg,
                     "--out", str(tmp_path / "nat"))
    assert proc.returncode == 2 and match in proc.stderr
    _one_line_error(proc.stderr)


def test_nan_values_and_non_utf8_config(study, tmp_path, capsys):
    nan = tmp_path / "nan.json"
    nan.write_text('{"soft_weight": NaN}')  # Python's JSON reader accepts NaN; JSON proper does not
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config", str(nan),
                         "--out", str(tmp_path / "py")], capsys)
    assert code == 2 and "'soft_weight' must be finite" in err
    proc = stx_train("train", "--data", str(study), "--sections", "section_0", "--config", str(nan),
                     "--out", str(tmp_path / "nat"))
    assert proc.returncode == 2 and "nan.json is not valid UTF-8 JSON" in proc.stderr
    latin = tmp_path / "latin.json"
    latin.write_bytes(b'{"genes_file": "g\xe9nes.txt"}')
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config", str(latin),
                         "--out", str(tmp_path / "py2")], capsys)
    assert code == 2 and "latin.json is not UTF-8 text" in err
    proc = stx_train("train", "--data", str(study), "--sections", "section_0", "--config", str(latin),
                     "--out", str(tmp_path / "nat2"))
    assert proc.returncode == 2 and "latin.json is not valid UTF-8 JSON" in proc.stderr
    _one_line_error(proc.stderr)


def test_invalid_backbone_file(study, tmp_path, capsys):
    junk = tmp_path / "backbone.pt"
    junk.write_bytes(b"not a TorchScript archive")
    cfg = _config(tmp_path, {**SMALL, "backbone": str(junk)})
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config", cfg,
                         "--out", str(tmp_path / "py")], capsys)
    assert code == 2 and "cannot be used as a backbone" in err
    _one_line_error(err)


def test_non_finite_loss_stops_training_with_a_clear_error(study, tmp_path, capsys):
    cfg = _config(tmp_path, {**SMALL, "temperature": 1e-300})
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config", cfg,
                         "--out", str(tmp_path / "py")], capsys)
    assert code == 2 and "training diverged" in err and "temperature" in err
    assert not (tmp_path / "py" / "checkpoint.pt").exists()


def test_unwritable_out_fails_before_any_work(study, tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    out = blocker / "sub"
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--out", str(out)], capsys)
    assert code == 2 and "--out" in err and "cannot be created" in err
    proc = stx_train("train", "--data", str(study), "--sections", "section_0", "--out", str(out))
    assert proc.returncode == 2 and "cannot be created" in proc.stderr
    if os.geteuid() != 0:  # root writes anywhere
        ro = tmp_path / "ro"
        ro.mkdir()
        ro.chmod(0o500)
        try:
            code, err = _python(["train", "--data", "", "--sections", "section_0", "--out", str(ro)], capsys)
            assert code == 2 and "not writable" in err
            assert not (ro / "synthetic").exists()  # refused before generating data
        finally:
            ro.chmod(0o700)


def test_failed_write_leaves_no_truncated_checkpoint(tmp_path):
    target = tmp_path / "checkpoint.pt"
    target.mkdir()  # the final rename cannot replace a folder: the write fails after the data is out
    with pytest.raises(ValueError, match="cannot replace"):
        stx._C.train.write_json(str(target), {"a": 1})
    assert [p.name for p in tmp_path.iterdir()] == ["checkpoint.pt"]  # no temporary file left behind
    out = tmp_path / "m.json"
    stx._C.train.write_json(str(out), {"x": float("nan"), "y": [1.0, float("inf")]})
    assert json.loads(out.read_text()) == {"x": None, "y": [1.0, None]}


def test_shape_mismatch_and_truncated_checkpoint(study, tmp_path, capsys):
    cfg = _config(tmp_path, SMALL)
    assert main(["train", "--data", str(study), "--sections", "section_0", "--config", cfg,
                 "--out", str(tmp_path / "t")]) == 0
    state = torch.load(tmp_path / "t" / "checkpoint.pt", weights_only=True)
    name = next(n for n, v in state["model"].items() if v.dim() == 2)
    state["model"][name] = torch.zeros(3, 3)
    torch.save(state, tmp_path / "bad_shape.pt")
    for ckpt, match in [(tmp_path / "bad_shape.pt", f"'{name}' has shape"),
                        (tmp_path / "t" / "missing.pt", "does not exist")]:
        code, err = _python(["evaluate", "--checkpoint", str(ckpt), "--data", str(study), "--sections", "section_1",
                             "--out", str(tmp_path / "e")], capsys)
        assert code == 2 and match in err
        _one_line_error(err)
    data = (tmp_path / "t" / "checkpoint.pt").read_bytes()
    (tmp_path / "trunc.pt").write_bytes(data[: len(data) // 2])
    proc = stx_train("evaluate", "--checkpoint", str(tmp_path / "trunc.pt"), "--data", str(study), "--sections",
                     "section_1", "--out", str(tmp_path / "e2"))
    assert proc.returncode == 2 and "cannot be read as an stx checkpoint" in proc.stderr
    assert not (tmp_path / "e2").exists()


def test_sample_budget_too_small(study, tmp_path, capsys):
    code, err = _python(["sample", "--data", str(study), "--sections", "section_0", "--budget", "1e-9",
                         "--config", _config(tmp_path, SMALL), "--out", str(tmp_path / "s")], capsys)
    assert code == 2 and "selects no spot" in err
    _one_line_error(err)


@pytest.mark.parametrize("extra", [{}, {"val_fraction": 0.25, "val_every": 3}], ids=["plain", "validation"])
def test_interrupted_run_resumes_to_the_uninterrupted_result(study, tmp_path, capsys, extra):
    """checkpoint_every writes resumable checkpoints; an interrupted run leaves a complete one (never a
    truncated file), --resume continues it, and the result equals the run that was never interrupted
    (with validation: the same validation record and the same best model)."""
    values = {**SMALL, "checkpoint_every": 4, **extra}
    cfg = PipelineConfig(**values)
    stx._C.train.run_train(cfg.native, str(study), "section_0", str(tmp_path / "full"))

    class Interrupt(Exception):
        pass

    def stop_at_7(step, loss):
        if step == 6:
            raise Interrupt()

    with pytest.raises(Interrupt):
        stx._C.train.run_train(cfg.native, str(study), "section_0", str(tmp_path / "cut"), progress=stop_at_7)
    info = stx._C.train.checkpoint_info(str(tmp_path / "cut" / "checkpoint.pt"))
    assert not info["finished"] and info["step"] == 4
    code, err = _python(["train", "--data", str(study), "--sections", "section_0", "--config",
                         _config(tmp_path, values), "--out", str(tmp_path / "cut")], capsys)
    assert code == 2 and "--force" in err and "--resume" in err  # a rerun without --resume never clobbers it
    assert main(["train", "--data", str(study), "--sections", "section_0", "--config", _config(tmp_path, values),
                 "--out", str(tmp_path / "cut"), "--resume"]) == 0
    full = torch.load(tmp_path / "full" / "checkpoint.pt", weights_only=True)
    resumed = torch.load(tmp_path / "cut" / "checkpoint.pt", weights_only=True)
    assert "train_state" not in resumed
    for name, value in full["model"].items():
        torch.testing.assert_close(resumed["model"][name], value, rtol=0, atol=0, msg=name)
    full_metrics = json.loads((tmp_path / "full" / "metrics.json").read_text())
    resumed_metrics = json.loads((tmp_path / "cut" / "metrics.json").read_text())
    assert resumed_metrics["validation"] == full_metrics["validation"]
    if extra:  # steps 3, 6, 9 and the last (12); the interruption at 7 falls between two of them
        assert full_metrics["validation"]["steps"] == [3, 6, 9, 12]

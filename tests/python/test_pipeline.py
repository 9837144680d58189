"""The main job end to end on a small synthetic study and on the real HER2+ sections."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from stx.cli import main

TINY = {
    "synthetic_sections": 3,
    "synthetic_image_px": 1100,
    "budgets": [0.25, 0.5],
    "samplers": ["scrl", "random"],
    "steps": 60,
    "scrl_episodes": 3,
    "top_genes": 20,
    "patch_size": 24,
    "width": 8,
}


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    root = tmp_path_factory.mktemp("demo")
    cfg = root / "tiny.json"
    cfg.write_text(json.dumps(TINY))
    out = root / "out"
    assert main(["demo", "--config", str(cfg), "--out", str(out)]) == 0
    return cfg, out


def test_demo_writes_report_metrics_and_figures(demo_run):
    _, out = demo_run
    metrics = json.loads((out / "metrics.json").read_text())
    for key in ("mse", "mae", "pcc_f", "pcc_s", "pcc_m", "genes_pcc_ge_0_3", "n_genes", "n_spots"):
        assert key in metrics, key
    assert metrics["n_genes"] == TINY["top_genes"]
    runs = metrics["runs"]
    assert {(r["sampler"], r["model"], r["budget"]) for r in runs} == {
        (s, m, b) for s in TINY["samplers"] for m in ("scr2net", "regression") for b in TINY["budgets"]}
    # each selection respects its budget over the training pool
    n_pool = metrics["summary"]["n_train_spots"]
    for r in runs:
        assert r["n_selected"] == int(r["budget"] * n_pool)
    # the model learned something a constant predictor cannot: the textures carry the domains
    assert metrics["pcc_m"] > metrics["summary"]["mean_predictor"]["pcc_m"] + 0.2
    report = (out / "report.md").read_text()
    for png in ("budget_vs_pcc.png", "gene_maps.png", "dense_map.png", "selection.png"):
        assert (out / png).stat().st_size > 1000
        assert png in report
    # paired comparisons: scrl - random per (budget, model), SCR2Net - regression per (sampler, budget)
    by_key = {(r["sampler"], r["model"], r["budget"], r["seed"]): r["metrics"]["pcc_m"] for r in runs}
    samplers = metrics["paired"]["samplers_vs_random"]
    assert {(r["sampler"], r["model"], r["budget"]) for r in samplers} == {
        ("scrl", m, b) for m in ("scr2net", "regression") for b in TINY["budgets"]}
    for r in samplers:
        seed = next(k[3] for k in by_key if k[:3] == ("random", r["model"], r["budget"]))
        assert r["n"] == 1 and r["ci95"] is None  # one seed: no interval (NaN is written as null)
        assert r["mean"] == pytest.approx(by_key[("scrl", r["model"], r["budget"], seed)]
                                          - by_key[("random", r["model"], r["budget"], seed)])
    assert len(metrics["paired"]["retrieval_vs_regression"]) == len(TINY["samplers"]) * len(TINY["budgets"])
    assert "## Paired comparisons" in report and "| SCR2Net − regression-only |" in report
    assert "95 % t-interval" in report and "Held-out PCC@M against the share" in report


def test_demo_refuses_to_overwrite_without_force(demo_run, capsys):
    cfg, out = demo_run
    before = (out / "metrics.json").read_text()
    assert main(["demo", "--config", str(cfg), "--out", str(out)]) == 2
    assert "--force" in capsys.readouterr().err
    assert (out / "metrics.json").read_text() == before


def test_train_then_evaluate_and_reject_another_gene_set(demo_run, tmp_path, capsys):
    cfg, out = demo_run
    data = out / "synthetic"
    sections = sorted(p.name for p in data.iterdir() if p.is_dir())
    visium = str(data / sections[0])
    train_out = tmp_path / "train"
    # one Visium folder is one section: train on section_0, evaluate on section_0 and a renamed gene panel
    assert main(["train", "--data", str(data / sections[0]), "--sections", sections[0], "--config", str(cfg),
                 "--out", str(train_out)]) == 0
    ckpt = train_out / "checkpoint.pt"
    assert ckpt.is_file()
    eval_out = tmp_path / "eval"
    assert main(["evaluate", "--checkpoint", str(ckpt), "--data", visium, "--sections", sections[0],
                 "--config", str(cfg), "--out", str(eval_out)]) == 0
    metrics = json.loads((eval_out / "metrics.json").read_text())
    assert metrics["n_spots"] > 0 and metrics["n_genes"] == TINY["top_genes"]

    import torch

    state = torch.load(ckpt, weights_only=True)  # what evaluate loads: plain data only
    # the checkpoint carries the mean training profile; evaluate reports that constant predictor beside the model
    assert state["train_mean"].shape == (TINY["top_genes"],)
    base = metrics["mean_predictor"]
    assert base["pcc_m"] == 0.0 and base["genes_pcc_ge_0_3"] == 0
    assert base["mse"] > 0 and metrics["pcc_m"] > base["pcc_m"]
    state["genes"] = [g + "_other" for g in state["genes"]]
    torch.save(state, tmp_path / "other.pt")
    assert main(["evaluate", "--checkpoint", str(tmp_path / "other.pt"), "--data", visium, "--sections", sections[0],
                 "--config", str(cfg), "--out", str(tmp_path / "eval2")]) == 2
    assert "another gene set" in capsys.readouterr().err


class _RunsCode:
    """Unpickling this calls Path.touch(marker): the shape of a code-execution payload."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def test_evaluate_never_runs_code_from_a_crafted_checkpoint(tmp_path, capsys):
    import torch

    marker = tmp_path / "pwned"
    crafted = tmp_path / "crafted.pt"
    torch.save({"model": {}, "genes": ["a"], "config": {}, "payload": _RunsCode(marker)}, crafted)
    assert main(["evaluate", "--checkpoint", str(crafted), "--data", str(tmp_path), "--sections", "s",
                 "--out", str(tmp_path / "eval")]) == 2
    assert not marker.exists()
    err = capsys.readouterr().err
    assert "cannot be read as an stx checkpoint" in err and str(crafted) in err
    assert not (tmp_path / "eval").exists()  # refused before any output folder is made


@pytest.mark.parametrize("content", [b"", b"not a zip", b"PK\x03\x04truncated"])
def test_evaluate_rejects_truncated_or_random_checkpoints(tmp_path, capsys, content):
    bad = tmp_path / "bad.pt"
    bad.write_bytes(content)
    assert main(["evaluate", "--checkpoint", str(bad), "--data", str(tmp_path), "--sections", "s",
                 "--out", str(tmp_path / "eval")]) == 2
    assert "cannot be read as an stx checkpoint" in capsys.readouterr().err


@pytest.mark.realdata
def test_demo_on_real_her2st_sections(stx_data, tmp_path):
    her2 = stx_data / "her2st"
    if not her2.is_dir():
        pytest.skip(f"HER2+ data not found under {stx_data}")
    cfg = tmp_path / "her2.json"
    cfg.write_text(json.dumps({"budgets": [0.5], "samplers": ["random"], "steps": 30, "patch_size": 32,
                               "patch_um": 100.0, "width": 8, "ablation": False}))
    out = tmp_path / "out"
    assert main(["demo", "--data", str(her2), "--genes", str(her2 / "hist2st" / "her_hvg_cut_1000.npy"),
                 "--config", str(cfg), "--out", str(out), "--test-sections", "C5"]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["summary"]["train_sections"] == ["C2", "C3", "C4"]
    assert metrics["n_spots"] == 181  # C5's spots in the counts file
    assert 500 < metrics["n_genes"] <= 785
    assert (out / "report.md").is_file()

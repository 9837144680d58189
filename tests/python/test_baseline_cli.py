"""``python -m stx baseline`` on a small synthetic study: every backbone is reported with its parameter
counts, per-set accuracy and the PCC vs Moran's I / abundance correlations, in baseline.json and report.md."""
from __future__ import annotations

import json

import torch

import stx
from stx.cli import main
from stx.modules import PatchRegressor


def test_baseline_writes_the_table_and_plots(tmp_path, capsys):
    study = tmp_path / "study"
    stx.data.make_synthetic(str(study), seed=1, n_sections=2, image_size_px=600)
    (tmp_path / "markers.txt").write_text("# two markers\nnot_a_gene\n")
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 4, "top_genes": 12, "patch_size": 16, "width": 4, "hidden_dim": 8,
                               "augment": "morphology", "seed": 0}))
    out = tmp_path / "out"
    argv = ["baseline", "--data", str(study), "--config", str(cfg), "--out", str(out), "--set-size", "5",
            "--backbones", "small_cnn,mobilenet_v2"]
    assert main(argv + ["--markers", str(tmp_path / "markers.txt")]) == 2  # no marker in the panel: one-line error
    assert "none of the marker genes" in capsys.readouterr().err
    assert main(argv + ["--force"]) == 0
    result = json.loads((out / "baseline.json").read_text())
    assert [r["backbone"] for r in result["results"]] == ["small_cnn", "mobilenet_v2"]
    genes = result["results"][0]["genes"]
    for r in result["results"]:
        net = PatchRegressor(num_genes=len(genes), backbone=r["backbone"], small_cnn_width=4, hidden_dim=8)
        assert r["parameters"] == {"backbone": net.backbone_parameters, "head": net.head_parameters}
        assert set(r["sets"]) == {"HEG", "HVG"} and r["sets"]["HEG"]["n_genes"] == 5
        for key in ("morans_i", "abundance"):
            rho, p = r["pcc_vs_structure"][key]["spearman_rho"], r["pcc_vs_structure"][key]["p_value"]
            if r["backbone"] == "small_cnn" or rho is not None:  # None (NaN): a barely trained net, constant PCC
                assert -1 <= rho <= 1 and 0 <= p <= 1
        assert (out / r["plot"]).stat().st_size > 0
        # the preset's fixed validation split (--val-fraction 0.1): validated after the last of the 4 steps
        assert r["validation"]["steps"] == [4] and r["validation"]["best_step"] == 4
    report = (out / "report.md").read_text()
    assert result["config"]["val_fraction"] == 0.1
    assert "| small_cnn |" in report and "| mobilenet_v2 |" in report and "rho(PCC, Moran's I)" in report


def test_leave_one_out_protocols(tmp_path, capsys):
    from scipy import stats

    from stx.pipeline.baseline import donor_of, parse_donors

    study = tmp_path / "study"
    stx.data.make_synthetic(str(study), seed=2, n_sections=3, image_size_px=500)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 3, "top_genes": 10, "patch_size": 16, "width": 4, "hidden_dim": 8}))
    base = ["baseline", "--data", str(study), "--config", str(cfg), "--set-size", "4"]
    # single-donor: each section held out in turn, with the mean and t-interval over the folds
    assert main(base + ["--out", str(tmp_path / "loso"), "--protocol", "loso"]) == 0
    result = json.loads((tmp_path / "loso" / "baseline.json").read_text())
    sections = ["section_0", "section_1", "section_2"]
    assert result["folds"] == sections and result["folds_done"] == 3 and result["complete"]
    assert [r["test_sections"] for r in result["results"]] == [[s] for s in sections]
    for r in result["results"]:
        assert sorted(r["train_sections"] + r["test_sections"]) == sections
    pcc = [r["pcc_m"] for r in result["results"]]
    (row,) = result["summary"]
    assert row["folds"] == 3 and abs(row["pcc_m"]["mean"] - sum(pcc) / 3) < 1e-12
    half = stats.t.ppf(0.975, 2) * stats.tstd(pcc) / 3 ** 0.5
    assert abs(row["pcc_m"]["ci95"] - half) < 1e-9
    assert "Over the folds" in (tmp_path / "loso" / "report.md").read_text()
    # multi-donor: each donor's sections held out together
    assert main(base + ["--out", str(tmp_path / "lopo"), "--protocol", "lopo",
                        "--donors", "A=section_0,section_1;B=section_2"]) == 0
    result = json.loads((tmp_path / "lopo" / "baseline.json").read_text())
    assert result["folds"] == ["section_0,section_1", "section_2"]
    assert [r["train_sections"] for r in result["results"]] == [["section_2"], ["section_0", "section_1"]]
    # errors: one donor only, --test-sections with a leave-one-out protocol, a malformed or incomplete --donors
    capsys.readouterr()
    assert main(base + ["--out", str(tmp_path / "x"), "--protocol", "lopo"]) == 2
    assert "at least two donors" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "x"), "--protocol", "loso", "--test-sections", "section_0"]) == 2
    assert "--test-sections applies to --protocol fixed" in capsys.readouterr().err
    assert main(base + ["--out", str(tmp_path / "x"), "--protocol", "lopo", "--donors", "A=section_0"]) == 2
    assert "no donor for section 'section_1'" in capsys.readouterr().err
    assert donor_of("C2", {}) == "C" and donor_of("C5", {}) == "C" and donor_of("slice", {}) == "slice"
    assert parse_donors("A=s1, s2;B=s3") == {"A": ["s1", "s2"], "B": ["s3"]}
    for bad in ("A", "=s1", "A="):
        try:
            parse_donors(bad)
        except ValueError as exc:
            assert "--donors" in str(exc)
        else:
            raise AssertionError(f"parse_donors accepted {bad!r}")


def test_constant_predictions_are_reported(tmp_path, capsys, monkeypatch):
    # A model whose head died predicts one profile for every spot; the study says so instead of
    # quietly reporting PCC 0.
    import stx.pipeline.baseline as baseline

    monkeypatch.setattr(baseline, "predict", lambda model, patches, device: torch.zeros(len(patches), 12))
    study = tmp_path / "study"
    stx.data.make_synthetic(str(study), seed=1, n_sections=2, image_size_px=500)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 2, "top_genes": 12, "patch_size": 16, "width": 4, "hidden_dim": 8}))
    assert main(["baseline", "--data", str(study), "--config", str(cfg), "--out", str(tmp_path / "out"),
                 "--set-size", "4"]) == 0
    assert "small_cnn predicts the same profile for every held-out spot" in capsys.readouterr().out


def test_an_interrupted_study_keeps_its_finished_folds(tmp_path, monkeypatch, capsys):
    import stx.pipeline.baseline as baseline

    real = baseline.run_fold
    calls = []

    def fold_then_fail(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("machine stopped")
        return real(*args, **kwargs)

    monkeypatch.setattr(baseline, "run_fold", fold_then_fail)
    study = tmp_path / "study"
    stx.data.make_synthetic(str(study), seed=3, n_sections=3, image_size_px=500)
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"steps": 2, "top_genes": 8, "patch_size": 16, "width": 4, "hidden_dim": 8}))
    out = tmp_path / "out"
    assert main(["baseline", "--data", str(study), "--config", str(cfg), "--out", str(out), "--protocol", "loso",
                 "--set-size", "4"]) == 2
    assert "machine stopped" in capsys.readouterr().err
    kept = json.loads((out / "baseline.json").read_text())
    assert kept["folds_done"] == 1 and not kept["complete"] and len(kept["results"]) == 1
    assert kept["results"][0]["test_sections"] == ["section_0"]

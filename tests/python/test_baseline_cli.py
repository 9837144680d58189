"""``python -m stx baseline`` on a small synthetic study: every backbone is reported with its parameter
counts, per-set accuracy and the PCC vs Moran's I / abundance correlations, in baseline.json and report.md."""
from __future__ import annotations

import json

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
    genes = result["genes"]
    for r in result["results"]:
        net = PatchRegressor(num_genes=len(genes), backbone=r["backbone"], small_cnn_width=4, hidden_dim=8)
        assert r["parameters"] == {"backbone": net.backbone_parameters, "head": net.head_parameters}
        assert set(r["sets"]) == {"HEG", "HVG"} and r["sets"]["HEG"]["n_genes"] == 5
        for key in ("morans_i", "abundance"):
            rho, p = r["pcc_vs_structure"][key]["spearman_rho"], r["pcc_vs_structure"][key]["p_value"]
            if r["backbone"] == "small_cnn" or rho is not None:  # None (NaN): a barely trained net, constant PCC
                assert -1 <= rho <= 1 and 0 <= p <= 1
        assert (out / r["plot"]).stat().st_size > 0
    report = (out / "report.md").read_text()
    assert "| small_cnn |" in report and "| mobilenet_v2 |" in report and "rho(PCC, Moran's I)" in report

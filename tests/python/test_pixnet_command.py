"""The PixNet study command (stx/train/pixnet.h): `stx-train pixnet` and `python -m stx pixnet` run
the same C++ and write the same metrics; every region set of the held-out section is evaluated; the
summary over seeds pairs dense and patch by seed; misuse is a one-line error."""
from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest

import stx
from stx import _library
from stx.cli import main

CONFIG = {"steps": 6, "top_genes": 12, "patch_size": 32, "patch_um": 40, "tile_px": 96, "tile_batch": 2,
          "width": 8, "decoder_channels": 16, "num_threads": 1, "seed": 0, "eval_max_regions": 400,
          "stitch_margin": 32}


def native(*args: str) -> subprocess.CompletedProcess:
    path = _library.package_binary_dir() / "bin" / "stx-train"
    assert path.is_file(), f"stx-train not built at {path}"
    return subprocess.run([str(path), *args], capture_output=True, text=True, timeout=900)


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("pixnet")
    stx.data.make_synthetic(str(root / "study"), seed=5, n_sections=2, image_size_px=480, n_genes=40,
                            bin_sizes_um=[8, 16])
    cfg = root / "cfg.json"
    cfg.write_text(json.dumps(CONFIG))
    return root, root / "study", cfg


def _metrics(path):
    return json.loads((path / "metrics.json").read_text())


def test_both_front_ends_write_the_same_metrics_at_every_region_set(study):
    root, data, cfg = study
    nat = native("pixnet", "--data", str(data), "--config", str(cfg), "--out", str(root / "nat"))
    assert nat.returncode == 0, nat.stderr
    assert main(["pixnet", "--data", str(data), "--config", str(cfg), "--out", str(root / "py")]) == 0
    a, b = _metrics(root / "nat"), _metrics(root / "py")
    assert sorted(a["scales"]) == ["section_1/spots", "section_1/square_008um", "section_1/square_016um"]
    assert a["train_sections"] == ["section_0"] and a["sections"] == ["section_1"]
    for key, entry in a["scales"].items():
        assert 2 <= entry["n_regions"] <= CONFIG["eval_max_regions"]
        assert entry["n_regions"] == min(entry["n_total"], CONFIG["eval_max_regions"])
        for model in ("dense", "patch"):
            for metric in ("pcc_m", "pcc_s", "pcc_f", "mse", "mae"):
                assert entry[model][metric] == pytest.approx(b["scales"][key][model][metric], abs=1e-9), (key, model)
            pcc = np.array(entry[model]["pcc_per_gene"])
            assert entry[model]["pcc_m"] == pytest.approx(pcc.mean(), abs=1e-12)
            assert entry[model]["pcc_s"] == pytest.approx(np.quantile(pcc, 0.5), abs=1e-12)
    assert a["scales"]["section_1/square_008um"]["shape"] == "square"
    assert (root / "nat" / "checkpoint.pt").is_file() and (root / "nat" / "report.md").is_file()
    assert (root / "nat" / "map_section_1_square_008um.csv").is_file()
    # the checkpoint is the dense model's, and the patch commands refuse it with what to run instead
    bad = native("evaluate", "--checkpoint", str(root / "nat" / "checkpoint.pt"), "--data", str(data),
                 "--sections", "section_1", "--out", str(root / "nat_eval"))
    assert bad.returncode == 2 and "pixnet" in bad.stderr


def test_seeds_are_summarised_and_paired(study, tmp_path):
    _, data, cfg = study
    out = tmp_path / "seeds"
    assert main(["pixnet", "--data", str(data), "--config", str(cfg), "--seeds", "2", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["seeds"] == [0, 1]
    for key, entry in summary["scales"].items():
        per_seed = [_metrics(out / f"seed_{s}")["scales"][key] for s in (0, 1)]
        m = entry["pcc_m"]
        assert m["dense_per_seed"] == [p["dense"]["pcc_m"] for p in per_seed]
        diff = np.subtract(m["dense_per_seed"], m["patch_per_seed"])
        assert m["dense_minus_patch"][0] == pytest.approx(diff.mean(), abs=1e-12)
        half = 12.706 * diff.std(ddof=1) / np.sqrt(2)  # t(0.975, 1 degree of freedom)
        assert m["dense_minus_patch"][1] == pytest.approx(half, rel=1e-3)
    report = (out / "report.md").read_text()
    for figure in ("pixnet_scales.png", "pixnet_map.png", "pixnet_top_genes.png"):
        assert figure in report and (out / figure).is_file()
    # nothing written is overwritten without --force
    assert main(["pixnet", "--data", str(data), "--config", str(cfg), "--seeds", "2", "--out", str(out)]) == 2


@pytest.mark.parametrize("extra, message", [
    ({"train_scales": ["square_002um"]}, "no region set 'square_002um'"),
    ({"val_fraction": 0.1}, "val_fraction"),
    ({"tile_px": 4000}, "tile_px"),
    ({"augment": "stnet"}, "dihedral or none"),
])
def test_misuse_is_a_clear_error(study, tmp_path, capsys, extra, message):
    _, data, _ = study
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**CONFIG, **extra}))
    assert main(["pixnet", "--data", str(data), "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert message in capsys.readouterr().err


def test_the_patch_commands_refuse_a_dense_model(study, tmp_path, capsys):
    _, data, _ = study
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({**CONFIG, "model": "pixnet"}))
    assert main(["train", "--data", str(data), "--sections", "section_0", "--config", str(cfg),
                 "--out", str(tmp_path / "o")]) == 2
    assert "dense model trained on image tiles" in capsys.readouterr().err

"""The pipeline's config and output rules: bad values are named, results are never overwritten."""
from __future__ import annotations

import json

import pytest

from stx.cli import main
from stx.pipeline.config import PipelineConfig, load_config, schema_key
from stx.pipeline.outputs import prepare_out_dir


def test_defaults_are_valid_and_round_trip(tmp_path):
    cfg = PipelineConfig()
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(cfg.to_dict()))
    assert load_config(path) == cfg


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "cfg.yaml"
    path.write_text("steps: 3\nbudgets: [0.2, 0.4]\n")
    cfg = load_config(path, {"seed": 7, "top_genes": None})
    assert (cfg.steps, cfg.budgets, cfg.seed, cfg.top_genes) == (3, [0.2, 0.4], 7, schema_key("top_genes")["default"])


@pytest.mark.parametrize(
    "values, match",
    [
        ({"steps": 3, "learning_rate": 0.1}, "unknown key.*learning_rate"),
        ({"budgets": [0.1, 1.5]}, "budgets.*\\(0, 1\\]"),
        ({"budgets": [0.0]}, "budgets"),
        ({"budgets": []}, "budgets.*non-empty"),
        ({"samplers": ["random", "oracle"]}, "samplers.*oracle"),
        ({"steps": 0}, "steps"),
        ({"device": "tpu"}, "device"),
        ({"steps": None}, "'steps' must not be null"),
        ({"lr": {"a": 1}}, "'lr' must be a number"),
        ({"seed": -1}, "'seed' must be in"),
        ({"seed": 1.5}, "'seed' must be an integer"),
        ({"seed": 1e23}, "'seed' must be an integer"),
        ({"seed": 10**23}, "'seed' is out of the 64-bit integer range"),
        ({"soft_weight": float("nan")}, "'soft_weight' must be finite"),
        ({"ablation": 1}, "'ablation' must be true or false"),
        ({"model": "nope"}, "'model'.*scr2net"),
    ],
)
def test_bad_config_names_the_key(tmp_path, values, match):
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps(values))  # json writes NaN as the token NaN, which Python's reader accepts
    with pytest.raises(ValueError, match=match):
        load_config(path)


def test_missing_and_non_utf8_config_files(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.json"):
        load_config(tmp_path / "nope.json")
    bad = tmp_path / "latin1.json"
    raw = b'{"steps": 3,\n "genes_file": "g\xe9nes.txt"}'
    bad.write_bytes(raw)
    with pytest.raises(ValueError, match=rf"latin1.json is not UTF-8 text \(byte {raw.index(0xE9)}, line 2\)"):
        load_config(bad)


def test_results_are_not_overwritten_without_force(tmp_path):
    out = prepare_out_dir(tmp_path / "run", force=False)
    (out / "metrics.json").write_text("{}")
    with pytest.raises(ValueError, match="--force"):
        prepare_out_dir(out, force=False)
    assert (out / "metrics.json").read_text() == "{}"
    prepare_out_dir(out, force=True)


def test_cli_reports_bad_input_without_traceback(tmp_path, capsys):
    cfg = tmp_path / "cfg.json"
    cfg.write_text(json.dumps({"budgets": [2.0]}))
    assert main(["demo", "--config", str(cfg), "--out", str(tmp_path / "o")]) == 2
    assert "budgets" in capsys.readouterr().err
    not_data = tmp_path / "empty"
    not_data.mkdir()
    assert main(["demo", "--data", str(not_data), "--out", str(tmp_path / "o2")]) == 2
    assert "not a Visium folder" in capsys.readouterr().err

"""The config schema is enumerated from C++ once and everything else is checked against it: the
native CLI, the docs table, and both front ends' flags, defaults, resolution and errors."""
from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
import torch

import stx
from stx import _library
from stx.cli import build_parser, main
from stx.pipeline.config import PipelineConfig, schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "pipeline.md"


def stx_train(*args: str) -> subprocess.CompletedProcess:
    exe = _library.package_binary_dir() / "bin" / "stx-train"
    return subprocess.run([str(exe), *args], capture_output=True, text=True, timeout=120)


def other_value(key: dict):
    """A valid value different from the default, for every type of the schema."""
    d, t = key["default"], key["type"]
    if t == "int":
        return d + 1 if key["max"] is None or d + 1 <= key["max"] else d - 1
    if t == "float":
        return d / 2 if d else 0.5 * (key["max"] if key["max"] is not None and key["max"] < 1 else 1.0)
    if t == "bool":
        return not d
    if t == "path?":
        return "genes.txt"
    if t == "float_list":
        return [0.3]
    if t == "string_list":
        return [key["choices"][-1]] if key["choices"] else [*d, "other"]
    if key["choices"]:
        return key["choices"][-1]
    return d  # free strings (backbone, device) are validated where they are used


def test_the_native_cli_prints_the_same_schema():
    proc = stx_train("schema")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == schema() == json.loads(stx._C.train.config_schema())
    names = [k["name"] for k in schema()]
    assert len(names) == len(set(names))
    assert next(k for k in schema() if k["name"] == "model")["choices"] == stx._C.train.recipe_names()


def test_docs_table_matches_the_schema():
    rows = {}
    for line in DOCS.read_text().splitlines():
        m = re.match(r"^\| `(\w+)` \| (\S+) \| `(.*?)` \| (.*?) \| (\w+) \| (.*?) \| (.*) \|$", line)
        if m:
            rows[m[1]] = m
    assert list(rows) == [k["name"] for k in schema()]
    for key in schema():
        row = rows[key["name"]]
        assert row[2] == key["type"] and json.loads(row[3]) == key["default"], key["name"]
        assert row[5] == key["used_by"] and row[6].strip("`") == key["flag"] and row[7] == key["doc"], key["name"]
        if key["choices"]:
            assert row[4] == ", ".join(key["choices"]), key["name"]
        elif key["min"] is not None:
            low, high = row[4][1:-1].split(", ")
            assert row[4][0] == ("(" if key["min_exclusive"] else "[") and float(low) == key["min"], key["name"]
            assert high == "2^63-1" or float(high) == key["max"], key["name"]


def test_both_front_ends_offer_the_schema_flags():
    flagged = {k["flag"]: k["name"] for k in schema() if k["flag"]}
    usage = stx_train("--help").stdout
    for command in ("demo", "sample", "train", "evaluate"):
        sub = build_parser()._subparsers._group_actions[0].choices[command]
        options = {o: a.dest for a in sub._actions for o in a.option_strings}
        for flag, name in flagged.items():
            assert options.get(flag) == name, (command, flag)
    for flag in flagged:
        assert flag in usage


def test_both_front_ends_resolve_every_key_the_same(tmp_path, capsys):
    threads = torch.get_num_threads()
    keys = schema()
    defaults = {k["name"]: k["default"] for k in keys}
    # no file: the defaults, in both front ends and in PipelineConfig
    proc = stx_train("config")
    assert proc.returncode == 0, proc.stderr
    assert json.loads(proc.stdout) == defaults
    assert main(["config"]) == 0
    assert json.loads(capsys.readouterr().out) == defaults
    assert PipelineConfig().to_dict() == defaults
    # every key set to another valid value: both front ends read the file the same way
    values = {k["name"]: other_value(k) for k in keys}
    path = tmp_path / "all.json"
    path.write_text(json.dumps(values))
    proc = stx_train("config", "--config", str(path))
    assert proc.returncode == 0, proc.stderr
    native = json.loads(proc.stdout)
    assert main(["config", "--config", str(path)]) == 0
    python = json.loads(capsys.readouterr().out)
    assert native == python == values
    changed = [k["name"] for k in keys if values[k["name"]] != k["default"]]
    assert len(changed) >= len(keys) - 3  # backbone, device, model (one recipe) may keep their default
    # the flags override the file in both
    proc = stx_train("config", "--config", str(path), "--seed", "9", "--top-genes", "7")
    assert main(["config", "--config", str(path), "--seed", "9", "--top-genes", "7"]) == 0
    python = json.loads(capsys.readouterr().out)
    assert json.loads(proc.stdout) == python == {**values, "seed": 9, "top_genes": 7}
    # printing a config changes nothing in the process (num_threads is applied only by commands that work)
    assert torch.get_num_threads() == threads


@pytest.mark.parametrize("key", [k["name"] for k in schema()])
def test_both_front_ends_reject_a_wrong_type_for_every_key(key, tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({key: {"not": "a value"}}))
    proc = stx_train("config", "--config", str(bad))
    assert proc.returncode == 2 and f"'{key}'" in proc.stderr
    assert main(["config", "--config", str(bad)]) == 2
    assert f"'{key}'" in capsys.readouterr().err


def test_both_front_ends_reject_unknown_keys(tmp_path, capsys):
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"steps": 5, "learning_rate": 1}))
    proc = stx_train("config", "--config", str(bad))
    assert proc.returncode == 2 and "learning_rate" in proc.stderr
    assert main(["config", "--config", str(bad)]) == 2
    assert "unknown key(s) 'learning_rate'" in capsys.readouterr().err

"""pyproject.toml declares what ``import stx`` needs.

``import stx`` runs in a fresh process; every third-party package that stx's own modules import
while it runs must belong to a distribution declared in ``[project] dependencies``. The full check, a wheel installed
into a clean venv, is ``scripts/wheel_smoke.sh`` (it downloads torch, so it is not part of pytest).
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from importlib import metadata
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]

LOADED = r"""
import builtins, json, sys
imported, original = set(), builtins.__import__

def record(name, globals=None, locals=None, fromlist=(), level=0):
    importer = (globals or {}).get("__name__", "")
    if level == 0 and (importer == "stx" or importer.startswith("stx.")):
        imported.add(name.split(".")[0])
    return original(name, globals, locals, fromlist, level)

builtins.__import__ = record
import stx
builtins.__import__ = original
print(json.dumps(sorted(imported)))
"""


def _name(requirement: str) -> str:
    return re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0].lower().replace("_", "-")


def test_import_stx_loads_only_declared_dependencies():
    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    declared = {_name(d) for d in project["dependencies"]}
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(p for p in sys.path if p)}
    proc = subprocess.run([sys.executable, "-c", LOADED], capture_output=True, text=True, env=env, cwd=REPO_ROOT)
    assert proc.returncode == 0, proc.stderr[-3000:]
    modules = json.loads(proc.stdout.strip().splitlines()[-1])
    owners = metadata.packages_distributions()
    undeclared = {}
    for module in modules:
        if module in sys.stdlib_module_names or module == "stx" or module.startswith("_"):
            continue
        dists = {_name(d) for d in owners.get(module, [])}
        if dists and not dists & declared:
            undeclared[module] = sorted(dists)
    assert not undeclared, f"import stx loads {undeclared}, not declared in pyproject.toml {project['dependencies']}"
    # the check is not blind: stx's own imports of torch, numpy and gymnasium are seen
    assert {"torch", "numpy", "gymnasium"} <= set(modules), modules

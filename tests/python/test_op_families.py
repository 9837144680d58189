"""One meaning of "op family": the files of ops/ that define schemas, the Python entry-point modules
(stx.ops.FAMILIES), the public headers and the docs/ops pages name the same families, and each
family's ops are exported, documented and traceable (a fake kernel) in all of them."""
from __future__ import annotations

import re

import pytest
import torch

import stx
from conftest import REPO_ROOT

SCHEMA = re.compile(r'm\.def\(\s*"(\w+)\(')


def schema_families() -> dict[str, list[str]]:
    """family -> op names, from the TORCH_LIBRARY_FRAGMENT blocks of ops/<family>.cpp."""
    families = {}
    for path in sorted((REPO_ROOT / "ops").glob("*.cpp")):
        text = path.read_text()
        if "TORCH_LIBRARY_FRAGMENT(stx" in text:
            families[path.stem] = SCHEMA.findall(text)
    return families


def test_every_layer_names_the_same_families():
    families = set(schema_families())
    assert families == set(stx.ops.FAMILIES)
    assert families == {p.stem for p in (REPO_ROOT / "docs" / "ops").glob("*.md")}
    assert families <= {p.stem for p in (REPO_ROOT / "include" / "stx" / "ops").glob("*.h")}


@pytest.mark.parametrize("family", sorted(schema_families()))
def test_family_ops_are_exported_documented_and_traceable(family):
    ops = schema_families()[family]
    public = [name for name in ops if not name.startswith("_")]
    assert public, f"ops/{family}.cpp defines no public op"
    module = stx.ops.FAMILIES[family]
    exported = set(module.__all__)
    assert set(public) <= exported, f"stx.ops.{family} does not export {set(public) - exported}"
    assert set(stx.ops.__all__) >= exported and all(getattr(stx.ops, name) is getattr(module, name) for name in exported)
    doc = (REPO_ROOT / "docs" / "ops" / f"{family}.md").read_text()
    undocumented = [name for name in sorted(exported) if not re.search(rf"\b{name}\b", doc)]
    assert undocumented == [], f"docs/ops/{family}.md does not mention {undocumented}"
    for name in ops:
        op = getattr(torch.ops.stx, name).default
        if torch._C._dispatch_has_kernel_for_dispatch_key(op.name(), "CompositeImplicitAutograd"):
            continue  # a composition of other ops (filtered_topk): traced through them
        entry = torch._library.simple_registry.singleton.find(f"stx::{name}")
        assert entry.fake_impl.kernel is not None, f"stx::{name} has no fake kernel"


def test_cuda_registrations_live_under_ops_cuda():
    """The CUDA key is registered only by ops/cuda/ (kernels, or host code the CUDA build compiles)."""
    outside = [p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "ops").rglob("*.cpp")
               if "TORCH_LIBRARY_IMPL(stx, CUDA" in p.read_text() and p.parent.name != "cuda"]
    assert outside == []
    assert "STX_WITH_CUDA" not in "".join(p.read_text() for p in (REPO_ROOT / "ops").glob("*_composite.cpp"))


@pytest.mark.skipif(not stx.has_cuda(), reason="libstx was built without its CUDA kernels")
@pytest.mark.parametrize("family", sorted(schema_families()))
def test_every_cpu_kernel_has_a_cuda_kernel(family):
    """In a CUDA build every op with a CPU kernel has a CUDA kernel (checked without a GPU)."""
    for name in schema_families()[family]:
        qualname = f"stx::{name}"
        if torch._C._dispatch_has_kernel_for_dispatch_key(qualname, "CPU"):
            assert torch._C._dispatch_has_kernel_for_dispatch_key(qualname, "CUDA"), f"{qualname} has no CUDA kernel"

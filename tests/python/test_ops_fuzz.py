"""The op argument fuzz runner (ops_fuzz.py) in a child process, so a crash or a hang fails this
test instead of killing pytest, plus the crafted inputs of issue 22 that it generalises."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

import stx

RUNNER = Path(__file__).resolve().parent / "ops_fuzz.py"


def run_campaign(seconds: float, *extra: str) -> subprocess.CompletedProcess:
    seed = int(os.environ.get("STX_OPS_FUZZ_SEED", "0"))
    cmd = [sys.executable, str(RUNNER), "--seed", str(seed), "--seconds", str(seconds), "--cases", "100000",
           "--verbose", *extra]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 120)


def assert_clean_campaign(r: subprocess.CompletedProcess, min_cases: int) -> None:
    tail = "\n".join((r.stdout + r.stderr).splitlines()[-60:])
    assert r.returncode == 0, f"runner exited with {r.returncode} (a negative code is a signal: a crash):\n{tail}"
    summary = [line for line in r.stdout.splitlines() if line.startswith("ops_fuzz:")]
    assert summary and " 0 failures" in summary[-1], tail
    cases = int(summary[-1].split(":")[2].split()[0])
    assert cases >= min_cases, summary[-1]  # the runner really ran a campaign


def test_fuzz_runner_finds_no_crash_hang_or_silent_result():
    assert_clean_campaign(run_campaign(float(os.environ.get("STX_OPS_FUZZ_SECONDS", "45"))), 200)


def test_fuzz_label_pool_backward_alone():
    # Issue 22 item 3: unchecked labels in _label_pool_backward read out of bounds (SIGSEGV); its own
    # campaign so every case goes to the former crasher.
    assert_clean_campaign(run_campaign(10.0, "--ops", "_label_pool_backward"), 20)


def test_runner_reports_a_silent_wrong_result(tmp_path):
    # The runner's checks can fail: a fake op that returns garbage for valid inputs is reported.
    script = tmp_path / "broken.py"
    script.write_text(f"""
import sys
sys.path.insert(0, {str(RUNNER.parent)!r})
import torch, ops_fuzz
out = torch.full((3,), float("inf"))
op = torch.ops.stx.pearson_per_gene
args = [torch.randn(10, 3), torch.randn(10, 3)]
try:
    ops_fuzz.check_result("pearson_per_gene", op, args, out, [])
except ops_fuzz.Failure as f:
    print("caught", f)
""")
    r = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, timeout=120)
    assert "caught" in r.stdout and "non-finite" in r.stdout, r.stdout + r.stderr


# ------------------------------------------------------------- crafted sizes and indices (issue 22)
def test_spot_pool_area_rejects_radii_beyond_the_documented_limit():
    dense = torch.rand(1, 2, 16, 16)
    centers = torch.tensor([[0, 8.0, 8.0]])
    for shape in ("disk", "square", "gaussian"):
        with pytest.raises(RuntimeError, match=r"reduce=\"area\" radii must be <= 1024"):
            stx.ops.spot_pool(dense, centers, torch.tensor([1e12]), shape=shape, reduce="area")
        with pytest.raises(RuntimeError, match="radii must be <= 1024"):
            torch.ops.stx.spot_splat(torch.rand(1, 2), centers, torch.tensor([1025.0]), 1, 16, 16, shape, "area", 0.5)
    # At the limit it still answers, and other reductions take any finite radius.
    out, cov = torch.ops.stx.spot_pool(dense, centers, torch.tensor([1024.0]), "disk", "area", 0.5)
    assert torch.isfinite(out).all() and cov.item() == 256
    out, cov = torch.ops.stx.spot_pool(dense, centers, torch.tensor([1e12]), "disk", "mean", 0.5)
    torch.testing.assert_close(out[0], dense[0].mean((1, 2)))


def test_morans_i_k_beyond_n_minus_1_is_rejected_before_allocating():
    x, c = torch.randn(50, 2), torch.rand(50, 2)
    for k in (50, 2**31, 2**62):
        with pytest.raises(RuntimeError, match=r"k must be in \[1, N-1\]=\[1, 49\]"):
            stx.ops.morans_i(x, c, "knn", k)
    stx.ops.morans_i(x, c, "knn", 49)  # every other spot: allowed


def test_merge_topk_treats_only_minus_one_as_padding():
    scores = torch.tensor([[[0.9, 0.1]], [[0.5, -1.0]]])
    index = torch.tensor([[[3, 4]], [[7, -1]]])
    s, i = stx.ops.merge_topk(scores, index, 3)
    assert i.tolist() == [[3, 7, 4]]
    for bad in (-2, -100, -(2**62)):
        idx = index.clone()
        idx[1, 0, 1] = bad
        with pytest.raises(RuntimeError, match=f"merge_topk: index must be >= 0, or -1 for padding; got {bad}"):
            stx.ops.merge_topk(scores, idx, 3)


def test_merge_topk_repeated_pairs_are_kept_not_left_unwritten():
    # Found by the runner: one (score, index) pair in two shards shared a rank in the counting path
    # and left output slots uninitialised (e.g. index 140610567946912, score 9.7e30).
    s = torch.tensor([[[0.9, 0.5]], [[0.9, 0.1]]])
    i = torch.tensor([[[3, 4]], [[3, 7]]])
    scores, index = stx.ops.merge_topk(s, i, 4)
    assert index.tolist() == [[3, 3, 4, 7]]
    torch.testing.assert_close(scores, torch.tensor([[0.9, 0.9, 0.5, 0.1]]))
    scores, index = stx.ops.merge_topk(s, i, 6)  # fewer candidates than k: padded, not garbage
    assert index.tolist() == [[3, 3, 4, 7, -1, -1]] and scores[0, 4:].eq(float("-inf")).all()


def test_cell_types_beyond_the_documented_limit_are_rejected_before_allocating():
    from stx import envs
    emb, types = torch.randn(30, 4), torch.randint(0, 3, (30,))
    with pytest.raises(RuntimeError, match="num_types and cell_types must be < 1048576"):
        envs.build_prior(emb, types, num_types=2**40, num_clusters=3)
    big = types.clone()
    big[0] = 2**40
    with pytest.raises(RuntimeError, match="max\\(cell_types\\)=1099511627776"):
        envs.build_prior(emb, big, num_clusters=3)
    labels = torch.zeros(30, dtype=torch.long)
    labels[0] = 2**40
    with pytest.raises(RuntimeError, match="cluster_labels .* max must be < M=30"):
        envs.build_prior(emb, types, cluster_labels=labels)
    with pytest.raises(RuntimeError, match="num_types must be <= 1048576"):
        envs.synthetic_data(num_types=2**40)
    with pytest.raises(RuntimeError, match="2\\^28 elements"):
        envs.synthetic_data(num_spots=2**30)
    assert envs.MAX_CELL_TYPES == 2**20

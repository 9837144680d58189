"""cosine_topk / majority_filter / filtered_topk / merge_topk against brute-force references:
the full similarity matrix, a stable sort (ties -> lower index) and a Counter-based filter loop."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter

import pytest
import torch
import torch.nn.functional as F

import stx
from conftest import devices


def full_scores(query, bank, metric):
    q, b = query.double(), bank.double()
    if metric == "cosine":
        return F.normalize(q, dim=1) @ F.normalize(b, dim=1).T
    if metric == "ip":
        return q @ b.T
    return -torch.cdist(q, b).square()


def reference_topk(query, bank, k, metric="cosine", bank_mask=None, exclude_self=False):
    Q, N = query.shape[0], bank.shape[0]
    s = full_scores(query, bank, metric)
    allowed = torch.ones(Q, N, dtype=torch.bool)
    if bank_mask is not None:
        allowed &= bank_mask[None, :]
    if exclude_self:
        allowed &= torch.arange(Q)[:, None] != torch.arange(N)[None, :]
    s = s.masked_fill(~allowed, float("-inf"))  # real scores are finite: excluded ones sort last
    order = torch.sort(s, dim=1, descending=True, stable=True).indices[:, :k]
    scores = torch.full((Q, k), float("-inf"), dtype=torch.float64)
    index = torch.full((Q, k), -1, dtype=torch.int64)
    found = torch.arange(order.shape[1])[None, :] < allowed.sum(1, keepdim=True)
    scores[:, : order.shape[1]] = torch.where(found, s.gather(1, order), scores[:, : order.shape[1]])
    index[:, : order.shape[1]] = torch.where(found, order, index[:, : order.shape[1]])
    return scores, index


def reference_filter(index, labels, num_types):
    keep = torch.zeros(index.shape, dtype=torch.bool)
    for q, row in enumerate(index.tolist()):
        valid = [j for j in row if j >= 0]
        top = {lab for lab, _ in Counter(labels[valid].tolist()).most_common(num_types)} if num_types else None
        for r, j in enumerate(row):
            keep[q, r] = j >= 0 and (top is None or labels[j].item() in top)
    return keep


def assert_topk_equal(got, ref, atol=1e-9):
    (gs, gi), (rs, ri) = got, ref
    assert torch.equal(gi.cpu(), ri)
    assert torch.allclose(gs.cpu().double(), rs, atol=atol, rtol=0)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("metric", ["cosine", "ip", "l2"])
@pytest.mark.parametrize("shape", [(7, 50, 5), (3, 4, 9), (5, 0, 3), (0, 6, 2), (1100, 4500, 17)])
def test_cosine_topk_matches_brute_force(device, metric, shape):
    Q, N, k = shape
    g = torch.Generator().manual_seed(Q * 131 + N)
    query = torch.randn(Q, 8, generator=g, dtype=torch.float64)
    bank = torch.randn(N, 8, generator=g, dtype=torch.float64)
    got = stx.ops.cosine_topk(query.to(device), bank.to(device), k, metric)
    assert got[0].shape == (Q, k) and got[1].dtype == torch.int64
    assert_topk_equal(got, reference_topk(query, bank, k, metric))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("metric", ["ip", "l2"])
def test_ties_and_duplicates_break_by_lower_index(device, dtype, metric):
    # Small integers: every score is exact in float32 too, so ties are real ties.
    g = torch.Generator().manual_seed(3)
    bank = torch.randint(-2, 3, (300, 4), generator=g).to(dtype)
    bank[100:110] = bank[5]  # duplicate vectors
    query = torch.randint(-2, 3, (40, 4), generator=g).to(dtype)
    query[0] = bank[5]
    got = stx.ops.cosine_topk(query.to(device), bank.to(device), 25, metric)
    assert_topk_equal(got, reference_topk(query, bank, 25, metric))
    assert got[1][0, :11].tolist() == [5] + list(range(100, 110)) or metric == "ip"


@pytest.mark.parametrize("device", devices())
def test_zero_vectors_have_cosine_zero(device):
    bank = torch.tensor([[0.0, 0.0], [1.0, 0.0], [-1.0, 0.0], [0.0, 0.0]], dtype=torch.float64)
    query = torch.tensor([[0.0, 0.0], [0.0, 1.0]], dtype=torch.float64)
    scores, index = stx.ops.cosine_topk(query.to(device), bank.to(device), 6)
    assert index[0].tolist() == [0, 1, 2, 3, -1, -1]  # all scores 0: index order
    assert scores[0, :4].tolist() == [0.0] * 4 and torch.isinf(scores[0, 4:]).all()
    assert index[1].tolist() == [0, 1, 2, 3, -1, -1]
    assert_topk_equal((scores, index), reference_topk(query, bank, 6))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_signed_zero_scores_tie_by_index(device, dtype):
    # Zero scores from signed-zero rows tie, and ties order by bank index.
    bank = torch.tensor([[-0.0, -0.0], [0.0, 0.0], [-0.0, -0.0], [1.0, 1.0], [0.0, -0.0]], dtype=dtype)
    query = torch.tensor([[1.0, 1.0]], dtype=dtype)
    scores, index = stx.ops.cosine_topk(query.to(device), bank.to(device), 5, "ip")
    assert index[0].tolist() == [3, 0, 1, 2, 4] and scores[0, 1:].abs().max() == 0


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16])
def test_merge_topk_signed_zero_scores_tie_by_index(device, dtype):
    # A GEMM may not keep the sign of a zero dot product; merge_topk takes the scores as given.
    scores = torch.tensor([[[0.0, -0.0, 0.5, 0.0, -0.0]]], dtype=dtype, device=device)
    index = torch.tensor([[[5, 2, 7, 9, 1]]], device=device)
    s, i = stx.ops.merge_topk(scores, index, 5)
    assert i[0].tolist() == [7, 1, 2, 5, 9] and s[0, 1:].abs().max() == 0


@pytest.mark.parametrize("device", devices())
def test_mask_and_exclude_self(device):
    g = torch.Generator().manual_seed(5)
    bank = torch.randn(60, 6, generator=g, dtype=torch.float64)
    mask = torch.rand(60, generator=g) > 0.4
    got = stx.ops.cosine_topk(bank.to(device), bank.to(device), 50, "cosine", mask.to(device), True)
    ref = reference_topk(bank, bank, 50, "cosine", mask, True)
    assert_topk_equal(got, ref)
    assert not (got[1].cpu() == torch.arange(60)[:, None]).any()


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("k", [1, 40, 100, 200])
def test_long_rows_with_ties_and_exclude_self(device, dtype, k):
    # Rows long enough for the kernel's group-maxima lower bound on the k-th score; small-integer
    # vectors make many exact ties (exact in float32 too), duplicates sit on both sides of the self
    # column. float32 with k <= 128 ends in the ranked sort of the buffer, k = 200 in the sort.
    g = torch.Generator().manual_seed(k)
    bank = torch.randint(-2, 3, (1500, 4), generator=g).to(dtype)
    bank[[7, 300, 301, 1499]] = bank[300].clone()
    for exclude_self in (False, True):
        got = stx.ops.cosine_topk(bank[:400].to(device), bank.to(device), k, "ip", None, exclude_self)
        assert_topk_equal(got, reference_topk(bank[:400].double(), bank.double(), k, "ip", None, exclude_self))


@pytest.mark.parametrize("device", devices())
def test_float32_and_bfloat16_close_to_float64(device):
    g = torch.Generator().manual_seed(9)
    query, bank = torch.randn(30, 16, generator=g), torch.randn(500, 16, generator=g)
    rs, ri = reference_topk(query, bank, 10)
    s32, i32 = stx.ops.cosine_topk(query.to(device), bank.to(device), 10)
    s32, i32 = s32.cpu(), i32.cpu()
    assert s32.dtype == torch.float32 and torch.allclose(s32.double(), rs, atol=1e-5)
    assert (i32 == ri).float().mean() > 0.98
    sb, ib = (t.cpu() for t in stx.ops.cosine_topk(query.bfloat16().to(device), bank.bfloat16().to(device), 10))
    assert sb.dtype == torch.bfloat16 and torch.allclose(sb.double(), rs, atol=3e-2)


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("num_types", [0, 1, 2, 3])
def test_filtered_topk_matches_counter_loop(device, num_types):
    g = torch.Generator().manual_seed(num_types)
    bank = torch.randn(200, 8, generator=g, dtype=torch.float64)
    labels = torch.randint(0, 5, (200,), generator=g)
    query = torch.randn(25, 8, generator=g, dtype=torch.float64)
    s, i, keep = stx.ops.filtered_topk(query.to(device), bank.to(device), labels.to(device), 30, num_types,
                                       num_labels=5)
    assert_topk_equal((s, i), reference_topk(query, bank, 30))
    assert torch.equal(keep.cpu(), reference_filter(i.cpu(), labels, num_types))


@pytest.mark.parametrize("device", devices())
@pytest.mark.parametrize("label_offset", [0, 70000, 2**40])  # dense label table / list of distinct labels
def test_majority_filter_label_ids_of_any_size(device, label_offset):
    g = torch.Generator().manual_seed(2)
    labels = torch.randint(0, 7, (500,), generator=g) * 3 + label_offset
    index = torch.randint(-1, 500, (40, 60), generator=g)
    for num_types in (0, 1, 3):
        keep = stx.ops.majority_filter(index.to(device), labels.to(device), num_types)
        assert torch.equal(keep.cpu(), reference_filter(index, labels, num_types))


@pytest.mark.parametrize("device", devices())
def test_majority_filter_count_ties_go_to_best_rank(device):
    labels = torch.tensor([0, 1, 2, 1, 0, 2], device=device)
    index = torch.tensor([[2, 0, 1, 3, 4, 5, -1], [-1, -1, -1, -1, -1, -1, -1]], device=device)
    # counts: 2 -> 2, 0 -> 2, 1 -> 2; label 2 appears first, then 0
    keep = stx.ops.majority_filter(index, labels, 1)
    assert keep[0].tolist() == [True, False, False, False, False, True, False]
    assert keep[1].tolist() == [False] * 7
    keep2 = stx.ops.majority_filter(index, labels, 2)
    assert keep2[0].tolist() == [True, True, False, False, True, True, False]
    assert torch.equal(keep2.cpu(), reference_filter(index.cpu(), labels.cpu(), 2))


@pytest.mark.parametrize("device", devices())
def test_merge_topk_equals_single_bank(device):
    g = torch.Generator().manual_seed(11)
    bank = torch.randint(-2, 3, (90, 3), generator=g).double()  # many exact ties across shards
    query = torch.randn(12, 3, generator=g, dtype=torch.float64)
    bounds = [0, 25, 25, 90]  # includes an empty shard
    parts_s, parts_i = [], []
    for lo, hi in zip(bounds[:-1], bounds[1:]):
        s, i = stx.ops.cosine_topk(query.to(device), bank[lo:hi].to(device), 15, "ip")
        parts_s.append(s)
        parts_i.append(torch.where(i >= 0, i + lo, i))
    got = stx.ops.merge_topk(parts_s, parts_i, 15)
    assert_topk_equal(got, reference_topk(query, bank, 15, "ip"))
    s, i = stx.ops.merge_topk(parts_s, parts_i, 40)  # only 15 + 0 + 15 candidates per row: padded
    assert torch.equal(i[:, :15].cpu(), got[1].cpu())
    assert (i[:, :30] >= 0).all() and (i[:, 30:] == -1).all() and torch.isinf(s[:, 30:]).all()


@pytest.mark.parametrize("device", devices())
def test_large_bank_spans_many_tiles(device):
    g = torch.Generator().manual_seed(1)
    bank = torch.randn(9000, 4, generator=g, dtype=torch.float64).to(device)
    query = bank[[0, 4095, 4096, 8999]] * 2
    s, i = stx.ops.cosine_topk(query, bank, 1)
    assert i[:, 0].tolist() == [0, 4095, 4096, 8999]


@pytest.mark.parametrize("device", devices())
def test_opcheck(device):
    g = torch.Generator().manual_seed(0)
    q, b = torch.randn(5, 4, generator=g).to(device), torch.randn(20, 4, generator=g).to(device)
    torch.library.opcheck(torch.ops.stx.cosine_topk.default, (q, b, 3), {"metric": "l2"})
    mask = (torch.rand(20, generator=g) > 0.5).to(device)
    torch.library.opcheck(torch.ops.stx.cosine_topk.default, (q, b, 30, "cosine", mask, False))
    labels = torch.randint(0, 3, (20,), generator=g).to(device)
    _, idx = stx.ops.cosine_topk(q, b, 6)
    torch.library.opcheck(torch.ops.stx.majority_filter.default, (idx, labels, 1))
    scores = torch.randn(2, 5, 3, generator=g).to(device)
    torch.library.opcheck(torch.ops.stx.merge_topk.default, (scores, torch.randint(0, 9, (2, 5, 3), generator=g).to(device), 4))


def test_torch_compile_fullgraph():
    q, b = torch.randn(6, 4), torch.randn(30, 4)
    labels = torch.randint(0, 3, (30,))
    fn = torch.compile(lambda q, b: stx.ops.filtered_topk(q, b, labels, 5, 1), fullgraph=True, backend="eager")
    s, i, k = fn(q, b)
    s2, i2, k2 = stx.ops.filtered_topk(q, b, labels, 5, 1)
    assert torch.equal(i, i2) and torch.equal(k, k2)


@pytest.mark.parametrize("device", devices())
def test_bad_inputs_name_the_argument(device):
    torch.set_default_device(device)  # every tensor below, the ones the checks see included
    try:
        bad_retrieval_inputs()
    finally:
        torch.set_default_device(None)


def bad_retrieval_inputs():
    q, b = torch.randn(3, 4), torch.randn(10, 4)
    with pytest.raises(RuntimeError, match="bank has D=5"):
        stx.ops.cosine_topk(q, torch.randn(10, 5), 2)
    with pytest.raises(RuntimeError, match="k must be positive"):
        stx.ops.cosine_topk(q, b, 0)
    with pytest.raises(RuntimeError, match="metric must be"):
        stx.ops.cosine_topk(q, b, 2, "dot")
    with pytest.raises(RuntimeError, match="bank dtype"):
        stx.ops.cosine_topk(q, b.double(), 2)
    with pytest.raises(RuntimeError, match="query must be floating"):
        stx.ops.cosine_topk(q.long(), b.long(), 2)
    with pytest.raises(RuntimeError, match="bank_mask must have shape"):
        stx.ops.cosine_topk(q, b, 2, "cosine", torch.ones(9, dtype=torch.bool))
    with pytest.raises(RuntimeError, match="bank_mask must be bool"):
        stx.ops.cosine_topk(q, b, 2, "cosine", torch.ones(10))
    bad = b.clone()
    bad[7, 1] = float("nan")
    with pytest.raises(RuntimeError, match="bank row 7 contains NaN or Inf"):
        stx.ops.cosine_topk(q, bad, 2)
    bad_q = q.clone()
    bad_q[1, 0] = float("inf")
    with pytest.raises(RuntimeError, match="query row 1 contains NaN or Inf"):
        stx.ops.cosine_topk(bad_q, b, 2)
    huge = b.clone()
    huge[4] = 1e30  # finite, but its squared norm overflows float32: the cosine would be garbage
    with pytest.raises(RuntimeError, match="bank row 4 has a squared norm that overflows float32"):
        stx.ops.cosine_topk(q, huge, 2)
    _, idx = stx.ops.cosine_topk(q, b, 4)
    with pytest.raises(RuntimeError, match="bank_labels values must be in"):
        stx.ops.majority_filter(idx, torch.full((10,), 3), 1, 3)
    with pytest.raises(RuntimeError, match="bank_labels values must be in"):
        stx.ops.majority_filter(idx, torch.full((10,), -1), 1)
    with pytest.raises(RuntimeError, match="index values must be in"):
        stx.ops.majority_filter(idx + 100, torch.zeros(10, dtype=torch.long), 1)
    with pytest.raises(RuntimeError, match="bank_labels must have shape"):
        stx.ops.filtered_topk(q, b, torch.zeros(9, dtype=torch.long), 2, 1)
    with pytest.raises(RuntimeError, match="num_types must be >= 0"):
        stx.ops.majority_filter(idx, torch.zeros(10, dtype=torch.long), -1)
    with pytest.raises(RuntimeError, match="merge_topk: index shape"):
        stx.ops.merge_topk(torch.randn(2, 3, 4), torch.zeros(2, 3, 5, dtype=torch.long), 2)


def assert_topk_equivalent(got, ref, atol=1e-6):
    """Same top-k up to float32 rounding: scores agree to atol, and the returned index sets agree
    except among candidates whose reference score lies within atol of the k-th score (near-ties)."""
    (gs, gi), (rs, ri) = got, ref
    assert torch.allclose(gs.double(), rs, atol=atol, rtol=0)
    for q in range(ri.shape[0]):
        kth = rs[q, -1]
        sure = set(ri[q][rs[q] > kth + atol].tolist())
        assert sure <= set(gi[q].tolist()), f"query {q}: a clear top-k member is missing"


@pytest.mark.parametrize("case", ["random", "clustered", "duplicates_and_zeros", "mask_and_self", "bfloat16"])
def test_int8_screen_returns_the_float32_topk(monkeypatch, case):
    # The screened path (int8 GEMM + exact float32 rescoring) is forced on small inputs here; it
    # must give the exact top-k whatever the data, including near-ties and degenerate rows.
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "1")
    g = torch.Generator().manual_seed(11)
    mask, self_ex, k = None, False, 40
    if case == "random":
        query, bank = torch.randn(70, 48, generator=g), torch.randn(9000, 48, generator=g)
    elif case == "clustered":  # many bank rows within 1e-3 of each other: wide screening bands
        centres = torch.randn(20, 48, generator=g)
        bank = centres.repeat(300, 1) + 1e-3 * torch.randn(6000, 48, generator=g)
        query = centres[:10] + 0.05 * torch.randn(10, 48, generator=g)
        k = 350
    elif case == "duplicates_and_zeros":
        bank = torch.randn(5000, 33, generator=g)
        bank[::9] = 0
        bank[200:260] = bank[7]
        query = torch.cat([bank[:20], torch.zeros(1, 33), torch.randn(9, 33, generator=g)])
        k = 90
    elif case == "mask_and_self":
        bank = torch.randn(4500, 40, generator=g)
        query = bank[:60].clone()
        mask, self_ex = torch.rand(4500, generator=g) > 0.3, True
    else:
        query, bank = torch.randn(50, 64, generator=g).bfloat16(), torch.randn(6000, 64, generator=g).bfloat16()
    got = stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex)
    ref = reference_topk(query.double(), bank.double(), k, "cosine", mask, self_ex)
    if case == "bfloat16":
        got = (got[0].double(), got[1])
        assert torch.allclose(got[0], ref[0], atol=1e-2)
        monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "0")
        plain = stx.ops.cosine_topk(query, bank, k)
        assert (plain[1] == got[1]).float().mean() > 0.99
        return
    assert_topk_equivalent(got, ref)
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "0")
    assert_topk_equivalent(stx.ops.cosine_topk(query, bank, k, "cosine", mask, self_ex), ref)


# --- CPU dispatch: every kernel version and the int8 screen on/off give the same answers ---------

ISA_LEVELS = ["baseline", "avx2", "avx512"]


def cpu_dispatch(calibrate=False):
    return json.loads(torch.ops.stx._cpu_dispatch(calibrate))


def runnable_isas():
    return ISA_LEVELS[: ISA_LEVELS.index(cpu_dispatch()["isa_hardware"]) + 1]


@pytest.fixture
def auto_isa():
    yield
    torch.ops.stx._set_cpu_isa("auto")


def run_row_kernel_ops(monkeypatch):
    """Every op whose CPU kernels use the multi-versioned row kernels, on inputs reaching each path."""
    g = torch.Generator().manual_seed(3)
    q, b = torch.randn(300, 40, generator=g), torch.randn(5000, 40, generator=g)
    mask = torch.rand(5000, generator=g) > 0.2
    outs = []
    for metric in ("cosine", "ip", "l2"):
        outs += stx.ops.cosine_topk(q, b, 30, metric)  # first tile: the bounded scan
    outs += stx.ops.cosine_topk(q, b, 30, "cosine", mask, True)  # threshold scan
    outs += stx.ops.cosine_topk(q.double(), b.double(), 300)
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "1")
    outs += stx.ops.cosine_topk(q, b, 30)  # int8 screen + float32 rescoring
    monkeypatch.delenv("STX_COSINE_TOPK_SCREEN")
    values = torch.randn(5000, 70, generator=g, requires_grad=True)
    scores = outs[6].clone().requires_grad_(True)
    soft, conf = stx.ops.soft_labels(outs[7], scores, None, values, "softmax", 0.5)
    (soft.square().sum() + conf.sum()).backward()
    outs += [soft, conf, values.grad, scores.grad]
    dense = torch.randn(1, 19, 33, 29, generator=g, requires_grad=True)
    labels = torch.randint(0, 50, (1, 33, 29), generator=g)
    pooled, count = stx.ops.label_pool(dense, labels, 50, "mean", return_count=True)
    pooled.square().sum().backward()
    return outs + [pooled.detach(), count, dense.grad]


def test_every_kernel_version_gives_identical_results(monkeypatch, auto_isa):
    results = {}
    for isa in runnable_isas():
        torch.ops.stx._set_cpu_isa(isa)
        report = cpu_dispatch()
        assert (report["isa"], report["isa_source"]) == (isa, "set_cpu_isa")
        results[isa] = run_row_kernel_ops(monkeypatch)
    for isa, outs in results.items():
        for j, (got, ref) in enumerate(zip(outs, results["baseline"])):
            assert torch.equal(got, ref), f"{isa} differs from baseline in output {j}"


def test_screen_dispatch_follows_the_int8_gemm(monkeypatch, auto_isa):
    # A problem large enough for the screen. The screened path rescores with its own dot product,
    # so its scores differ from the float32 GEMM path in the last bits: bit equality tells the paths apart.
    least = cpu_dispatch(calibrate=False)["cosine_topk_int8_screen_min"]
    assert least == {"queries": 512, "bank": 100000, "dim": 32}  # the measured rule, docs/ops/retrieval.md
    g = torch.Generator().manual_seed(5)
    q, b = torch.randn(least["queries"], 64, generator=g), torch.randn(least["bank"], 64, generator=g)

    def forced(value, bank=b):
        monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", value)
        try:
            return stx.ops.cosine_topk(q, bank, 20)
        finally:
            monkeypatch.delenv("STX_COSINE_TOPK_SCREEN")

    on, off = forced("1"), forced("0")
    assert torch.equal(on[1], off[1]) and torch.allclose(on[0], off[0], atol=1e-6)
    assert not torch.equal(on[0], off[0]), "the two paths should differ in rounding"
    # One bank row fewer (or one query fewer) than the rule asks: the float32 path, however fast the int8 GEMM.
    small_bank = b[:-1]
    assert torch.equal(stx.ops.cosine_topk(q, small_bank, 20)[0], forced("0", small_bank)[0])
    assert not torch.equal(forced("1", small_bank)[0], forced("0", small_bank)[0])
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "0")
    few_off = stx.ops.cosine_topk(q[:-1], b, 20)
    monkeypatch.delenv("STX_COSINE_TOPK_SCREEN")
    assert torch.equal(stx.ops.cosine_topk(q[:-1], b, 20)[0], few_off[0])
    # What an AVX2-only CPU (no VNNI/AMX) reports: the screen runs on stx's AVX2 kernel, and only
    # if its calibration says it pays.
    torch.ops.stx._set_cpu_isa("avx2")
    report = cpu_dispatch(calibrate=True)
    assert not any("vnni" in f or "avx512" in f or "amx" in f for f in report["active_features"])
    gemm = report["int8_gemm"]
    assert gemm["engine"] == "avx2_maddubs" and gemm["speedup_over_float32"] == gemm["avx2_speedup"] > 0
    auto = stx.ops.cosine_topk(q, b, 20)
    assert torch.equal(auto[0], (on if gemm["fast"] else off)[0]), report
    # The machine's own level: the screen is taken exactly when the faster calibrated engine is fast.
    torch.ops.stx._set_cpu_isa("auto")
    report = cpu_dispatch(calibrate=True)
    auto = stx.ops.cosine_topk(q, b, 20)
    assert torch.equal(auto[0], (on if report["int8_gemm"]["fast"] else off)[0]), report
    gemm = report["int8_gemm"]
    chosen = {"onednn": gemm["onednn_speedup"], "avx2_maddubs": gemm["avx2_speedup"]}[gemm["engine"]]
    assert gemm["speedup_over_float32"] == chosen
    assert gemm["required_speedup"] == {"onednn": 1.6, "avx2_maddubs": 1.3}[gemm["engine"]]
    assert gemm["fast"] == (gemm["speedup_over_float32"] >= gemm["required_speedup"])


def test_stx_cpu_isa_environment_caps_the_level():
    code = ("import json, torch, stx; r = json.loads(torch.ops.stx._cpu_dispatch(False)); "
            "print(r['isa'], r['isa_source'], r['int8_gemm']['engine'])")
    env = dict(os.environ, STX_CPU_ISA="avx2")
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["avx2", "STX_CPU_ISA=avx2", "avx2_maddubs"]
    env["STX_CPU_ISA"] = "sse9"
    bad = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert bad.returncode != 0 and "STX_CPU_ISA must be" in bad.stderr


def test_bad_dispatch_overrides_are_errors(monkeypatch, auto_isa):
    with pytest.raises(RuntimeError, match="set_cpu_isa: isa must be"):
        torch.ops.stx._set_cpu_isa("sse9")
    if cpu_dispatch()["isa_hardware"] != "avx512":
        with pytest.raises(RuntimeError, match="cannot run"):
            torch.ops.stx._set_cpu_isa("avx512")
    monkeypatch.setenv("STX_COSINE_TOPK_SCREEN", "yes")
    with pytest.raises(RuntimeError, match="STX_COSINE_TOPK_SCREEN must be"):
        stx.ops.cosine_topk(torch.randn(4, 8), torch.randn(9, 8), 2)

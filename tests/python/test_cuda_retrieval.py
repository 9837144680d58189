"""cosine_topk / majority_filter / filtered_topk / merge_topk on CUDA against the CPU kernels:
random banks, exact ties and duplicates (integer-valued vectors), zero vectors, masks and
exclude_self, k > N, empty query or bank, banks spanning many tiles, k above the block-select
limit; the outputs are deterministic (total order on (score, index)), so runs are bit-identical."""
from __future__ import annotations

import pytest
import torch

import stx
from device_agreement import assert_agree, assert_deterministic
from test_retrieval import assert_topk_equivalent, reference_topk

pytestmark = pytest.mark.cuda

METRICS = ["cosine", "ip", "l2"]


def bank_case(kind, Q=64, N=3000, D=24, dtype=torch.float64, seed=0):
    gen = torch.Generator().manual_seed(seed)
    if kind == "random":
        bank = torch.randn(N, D, generator=gen, dtype=torch.float64)
        query = torch.randn(Q, D, generator=gen, dtype=torch.float64)
    else:  # "ties": small integers, so many exact score ties and duplicated rows; some zero rows
        bank = torch.randint(-2, 3, (N, D), generator=gen).double()
        bank[::50] = 0
        query = torch.randint(-2, 3, (Q, D), generator=gen).double()
        query[3] = 0
    return query.to(dtype), bank.to(dtype)


def topk(k, metric, exclude_self=False):
    return lambda q, b, mask: stx.ops.cosine_topk(q, b, k, metric, mask, exclude_self)


# Exact ties only where every score is exact (integer dot products); cosine's normalisation rounds.
@pytest.mark.parametrize("kind,metric", [("random", "cosine"), ("random", "ip"), ("random", "l2"), ("ties", "ip"),
                                         ("ties", "l2")])
@pytest.mark.parametrize("k", [1, 17, 100, 1500])
def test_cosine_topk_agrees(gpu, kind, metric, k):
    query, bank = bank_case(kind)
    out, _ = assert_agree(topk(k, metric), [query, bank, None], gpu, rtol=1e-9, atol=1e-9)
    if kind == "ties" and k <= 100:  # and both equal the brute-force stable sort
        rs, ri = reference_topk(query, bank, k, metric)
        assert torch.equal(out[1], ri)


@pytest.mark.parametrize("metric", METRICS)
def test_float32_and_bfloat16_agree_on_exact_ties(gpu, metric):
    """Integer-valued vectors: every ip / l2 score is exact in float32, so the lists must be identical.
    Cosine normalises (rounding differs per device, and different integer rows can have equal cosines),
    so there the lists agree up to near-ties."""
    query, bank = bank_case("ties", dtype=torch.float32)
    if metric == "cosine":
        ref = stx.ops.cosine_topk(query, bank, 40, metric)
        got = stx.ops.cosine_topk(query.to(gpu), bank.to(gpu), 40, metric)
        assert_topk_equivalent((got[0].cpu(), got[1].cpu()), (ref[0].double(), ref[1]), atol=1e-5)
    else:
        assert_agree(topk(40, metric), [query, bank, None], gpu, rtol=0, atol=0)
    qb, bb = bank_case("random", dtype=torch.bfloat16, N=700)
    s_ref, _ = stx.ops.cosine_topk(qb, bb, 10, metric)
    s_dev, _ = stx.ops.cosine_topk(qb.to(gpu), bb.to(gpu), 10, metric)
    torch.testing.assert_close(s_dev.cpu().float(), s_ref.float(), rtol=2e-2, atol=2e-2)


@pytest.mark.parametrize("metric", METRICS)
def test_mask_exclude_self_and_k_beyond_the_candidates(gpu, metric):
    query, bank = bank_case("random" if metric == "cosine" else "ties", Q=40, N=60)
    mask = torch.arange(60) % 3 != 0
    assert_agree(topk(25, metric, exclude_self=True), [query, bank, mask], gpu)
    assert_agree(topk(80, metric, exclude_self=True), [query, bank, mask], gpu)  # k > N: -1 / -inf padding
    assert_agree(topk(5, metric), [query, bank, torch.zeros(60, dtype=torch.bool)], gpu)  # nothing allowed


@pytest.mark.parametrize("shape", [(0, 50, 8), (9, 0, 8), (5, 7, 0), (1, 1, 1)])
def test_empty_and_tiny_inputs_agree(gpu, shape):
    Q, N, D = shape
    gen = torch.Generator().manual_seed(1)
    query, bank = torch.randn(Q, D, generator=gen), torch.randn(N, D, generator=gen)
    for metric in METRICS:
        assert_agree(topk(4, metric), [query, bank, None], gpu)


def test_large_bank_many_tiles_agrees(gpu):
    query, bank = bank_case("random", Q=300, N=40000, D=64, dtype=torch.float32)
    for metric in METRICS:
        out_ref = stx.ops.cosine_topk(query, bank, 50, metric)
        out_dev = stx.ops.cosine_topk(query.to(gpu), bank.to(gpu), 50, metric)
        torch.testing.assert_close(out_dev[0].cpu(), out_ref[0], rtol=1e-5, atol=1e-5)
        # float32 GEMMs round differently per device: the lists may differ only among near-ties
        assert (out_dev[1].cpu() == out_ref[1]).float().mean() > 0.99


@pytest.mark.parametrize("num_types", [0, 1, 3])
def test_majority_and_filtered_topk_agree(gpu, num_types):
    query, bank = bank_case("ties", Q=50, N=400)
    labels = torch.randint(0, 6, (400,), generator=torch.Generator().manual_seed(2))
    assert_agree(lambda q, b, lab: stx.ops.filtered_topk(q, b, lab, 30, num_types, "ip", num_labels=6),
                 [query, bank, labels], gpu)
    index = torch.randint(-1, 400, (50, 70), generator=torch.Generator().manual_seed(3))
    for offset in (0, 2**40):  # dense label table / sorted list of distinct labels
        assert_agree(lambda i, lab: stx.ops.majority_filter(i, lab, num_types), [index, labels * 5 + offset], gpu)


def test_merge_topk_agrees(gpu):
    gen = torch.Generator().manual_seed(4)
    scores = torch.randint(-3, 4, (4, 30, 20), generator=gen).float()  # many cross-shard ties
    scores[1, :, 10:] = float("-inf")  # a shard with fewer candidates
    index = torch.randint(0, 10**6, (4, 30, 20), generator=gen)
    index[1, :, 10:] = -1
    for k in (1, 20, 50, 100):  # 100 > 4 * 20 candidates: padded
        assert_agree(lambda s, i: stx.ops.merge_topk(s, i, k), [scores, index], gpu)


def test_runs_are_bit_identical(gpu):
    query, bank = bank_case("random", Q=200, N=20000, D=48, dtype=torch.float32)
    labels = torch.randint(0, 8, (20000,), generator=torch.Generator().manual_seed(5))
    for metric in METRICS:
        assert_deterministic(lambda q, b, lab: stx.ops.filtered_topk(q, b, lab, 64, 2, metric), [query, bank, labels],
                             gpu)

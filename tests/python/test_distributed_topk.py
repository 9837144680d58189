"""Sharded retrieval over 2 torch.distributed (gloo) processes equals one search of the whole bank."""
from __future__ import annotations

import os
import tempfile

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _bank_and_query():
    g = torch.Generator().manual_seed(0)
    bank = torch.randn(301, 12, generator=g)
    bank[200] = bank[10]  # a duplicate that lands on the other shard: tie broken by global index
    query = torch.randn(17, 12, generator=g)
    query[0] = bank[10]
    return bank, query


def _worker(rank, world, init_file, out_dir):
    import stx
    from stx.distributed import sharded_topk

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        bank, query = _bank_and_query()
        bounds = [0, 160, 301]
        lo, hi = bounds[rank], bounds[rank + 1]
        scores, index = sharded_topk(query, bank[lo:hi], 40, offset=lo)
        torch.save({"scores": scores, "index": index}, os.path.join(out_dir, f"rank{rank}.pt"))
        dist.barrier()
    finally:
        dist.destroy_process_group()
    del stx


def test_two_process_gloo_sharded_topk_equals_single_bank():
    import stx

    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_worker, args=(2, os.path.join(tmp, "init"), tmp), nprocs=2, join=True)
        bank, query = _bank_and_query()
        ref_scores, ref_index = stx.ops.cosine_topk(query, bank, 40)
        for rank in range(2):
            got = torch.load(os.path.join(tmp, f"rank{rank}.pt"))
            assert torch.equal(got["index"], ref_index)
            torch.testing.assert_close(got["scores"], ref_scores)
        assert ref_index[0, :2].tolist() == [10, 200]


def _soft_label_data():
    g = torch.Generator().manual_seed(1)
    bank_emb = torch.randn(90, 8, generator=g)
    values = torch.rand(90, 5, generator=g)
    labels = torch.randint(0, 4, (90,), generator=g)
    queries = torch.randn(11, 8, generator=g)  # rank 0 gets 6 queries, rank 1 gets 5
    # The last query has a negative cosine with every bank row: "similarity" falls back to the mean.
    bank_emb[:, 0] = bank_emb[:, 0].abs() + 0.5
    queries[10] = torch.tensor([-1.0] + [0.0] * 7)
    return bank_emb, values, labels, queries


WEIGHTINGS = ("mean", "similarity", "softmax")


def _soft_label_worker(rank, world, init_file, out_dir):
    import stx  # noqa: F401
    from stx.distributed import shard_range, sharded_soft_labels

    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        bank_emb, values, labels, queries = _soft_label_data()
        lo, hi = shard_range(90, rank, world)
        mine = queries[:6] if rank == 0 else queries[6:]
        out = {}
        for weighting in WEIGHTINGS:
            soft, conf = sharded_soft_labels(mine, bank_emb[lo:hi], values[lo:hi], labels, lo, k=20, num_types=2,
                                             weighting=weighting, temperature=0.3)
            out[weighting] = {"soft": soft, "conf": conf}
        torch.save(out, os.path.join(out_dir, f"soft{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_process_sharded_soft_labels_equal_single_bank():
    import stx

    with tempfile.TemporaryDirectory() as tmp:
        mp.spawn(_soft_label_worker, args=(2, os.path.join(tmp, "init"), tmp), nprocs=2, join=True)
        bank_emb, values, labels, queries = _soft_label_data()
        s, i, keep = stx.ops.filtered_topk(queries, bank_emb, labels, 20, 2)
        got = [torch.load(os.path.join(tmp, f"soft{r}.pt")) for r in range(2)]
        for weighting in WEIGHTINGS:
            ref_soft, ref_conf = stx.ops.soft_labels(i, s, keep, values, weighting, 0.3)
            torch.testing.assert_close(torch.cat([g[weighting]["soft"] for g in got]), ref_soft)
            torch.testing.assert_close(torch.cat([g[weighting]["conf"] for g in got]), ref_conf)
        assert keep.sum() < keep.numel()  # the filter dropped neighbours, so the test exercises it
        assert (s[10] < 0).all() and (s[:10, 0] > 0).all()  # both sides of the similarity fallback

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

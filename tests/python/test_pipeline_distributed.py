"""SCR2Net training under torch.distributed: 2 CPU processes, gloo, DistributedDataParallel."""
from __future__ import annotations

import dataclasses
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        import stx  # noqa: F401
        from stx.pipeline.config import PipelineConfig
        from stx.distributed import shard_range
        from stx.pipeline.train import _Objective, make_model, to_input, train_scr2net

        g = torch.Generator().manual_seed(0)  # the same data on every rank; DDP splits the batches
        patches = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=g)
        targets = torch.rand(64, 5, generator=g) * 3
        labels = torch.randint(0, 3, (64,), generator=g)
        cfg = PipelineConfig(steps=6, batch_size=16, width=4, retrieval_k=4)
        torch.manual_seed(0)
        initial = make_model(cfg, 5).state_dict()
        torch.save(initial, os.path.join(out_dir, f"initial{rank}.pt"))
        result = train_scr2net(patches, targets, labels, cfg, seed=0, retrieval=True)
        state = {k: v.clone() for k, v in result.model.state_dict().items()}
        torch.save(state, os.path.join(out_dir, f"rank{rank}.pt"))
        # A training run with the bank sharded across the ranks (each keeps half of its rows) ...
        sharded = train_scr2net(patches, targets, labels, dataclasses.replace(cfg, shard_bank=True), seed=0,
                                retrieval=True)
        # ... and the objective itself, dropout off so both retrievals see the same embeddings:
        # loss and gradients with the sharded bank equal those with the whole bank on every rank.
        model = make_model(cfg, 5)
        model.eval()
        objective = _Objective(model, cfg, True, 3)
        x = to_input(patches[rank::2][:8], "cpu")
        grads = {}
        for mode in ("whole", "sharded"):
            model.zero_grad()
            if mode == "whole":
                loss, _ = objective(x, targets[rank::2][:8], targets, labels)
            else:
                lo, hi = shard_range(64, rank, 2)
                loss, _ = objective(x, targets[rank::2][:8], targets[lo:hi], labels, lo)
            loss.backward()
            grads[mode] = (loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        torch.save({"trained": sharded.model.state_dict(), "grads": grads}, os.path.join(out_dir, f"sharded{rank}.pt"))
    finally:
        dist.destroy_process_group()


def test_two_ranks_stay_in_sync(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    a = torch.load(tmp_path / "rank0.pt")
    b = torch.load(tmp_path / "rank1.pt")
    initial = torch.load(tmp_path / "initial0.pt")
    assert a.keys() == b.keys()
    # every rank saw different spots, yet the averaged gradients keep the weights identical
    for name in a:
        if name.endswith("num_batches_tracked") or "running_" in name:
            continue  # BatchNorm statistics are per rank, as in torch's DDP
        torch.testing.assert_close(a[name], b[name], rtol=0, atol=1e-6, msg=name)
    # and training moved them
    moved = [n for n in a if a[n].is_floating_point() and not torch.equal(a[n], initial[n])]
    assert len(moved) > len(a) // 2


def test_sharded_bank_gives_the_same_objective_and_trains(tmp_path):
    """With the bank sharded across 2 ranks (stx.distributed.sharded_soft_labels), the objective's
    loss and gradients equal those with the whole bank on each rank, and a sharded training run keeps
    the ranks in sync."""
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    got = [torch.load(tmp_path / f"sharded{rank}.pt") for rank in range(2)]
    for g in got:
        whole_loss, whole_grads = g["grads"]["whole"]
        sharded_loss, sharded_grads = g["grads"]["sharded"]
        torch.testing.assert_close(sharded_loss, whole_loss, rtol=1e-5, atol=1e-6)
        assert whole_grads.keys() == sharded_grads.keys() and whole_grads
        for name in whole_grads:
            torch.testing.assert_close(sharded_grads[name], whole_grads[name], rtol=1e-4, atol=1e-6, msg=name)
    for name, value in got[0]["trained"].items():
        if value.is_floating_point() and "running_" not in name:
            torch.testing.assert_close(value, got[1]["trained"][name], rtol=0, atol=1e-6, msg=name)

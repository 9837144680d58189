"""The training layer's loop under torch.distributed: 2 CPU processes, gloo; the Python front end
supplies the gradient averaging and the sharded-bank retrieval as hooks of the C++ loop."""
from __future__ import annotations

import os

import torch
import torch.multiprocessing as mp


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    import torch.distributed as dist

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    torch.set_num_threads(1)
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        import stx
        from stx.distributed import shard_range, sharded_soft_labels
        from stx.pipeline.config import PipelineConfig
        from stx.pipeline.train import train

        g = torch.Generator().manual_seed(0)  # the same data on every rank; the loop splits the batches
        patches = torch.randint(0, 256, (64, 3, 16, 16), dtype=torch.uint8, generator=g)
        targets = torch.rand(64, 5, generator=g) * 3
        labels = torch.randint(0, 3, (64,), generator=g)
        cfg = PipelineConfig(steps=6, batch_size=16, width=4, retrieval_k=4)
        torch.manual_seed(0)  # the loop's own seeding: the weights training starts from
        initial = stx._C.train.build_model(cfg.native, 5).state_dict()
        result = train(patches, targets, labels, cfg, seed=0, retrieval=True)
        torch.save({"initial": initial, "trained": result.model.state_dict()}, os.path.join(out_dir, f"rank{rank}.pt"))
        # A training run with the bank sharded across the ranks (each keeps half of its rows) ...
        sharded = train(patches, targets, labels, cfg.replace(shard_bank=True), seed=0, retrieval=True)
        # ... and the objective itself, dropout off so both retrievals see the same embeddings:
        # loss and gradients with the sharded bank equal those with the whole bank on every rank.
        torch.manual_seed(0)
        model = stx.modules.SCR2Net(num_genes=5, small_cnn_width=4)
        model.eval()
        x = torch.randn(8, 3, 16, 16, generator=torch.Generator().manual_seed(rank))
        y = targets[rank::2][:8]
        lo, hi = shard_range(64, rank, 2)
        grads = {}
        for mode in ("whole", "sharded"):
            model.zero_grad()
            if mode == "whole":
                loss, _ = model.training_loss(x, y, targets, labels, k=4, num_types=3, num_labels=3)
            else:
                def retrieve(emb):
                    return sharded_soft_labels(emb, model.gene_embedding(targets[lo:hi]), targets[lo:hi], labels, lo,
                                               4, 3, 3)

                loss, _ = model.training_loss_with_retrieval(x, y, retrieve)
            loss.backward()
            grads[mode] = (loss.detach(), {n: p.grad.clone() for n, p in model.named_parameters() if p.grad is not None})
        torch.save({"trained": sharded.model.state_dict(), "grads": grads}, os.path.join(out_dir, f"sharded{rank}.pt"))
    finally:
        dist.destroy_process_group()


def _run(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)


def test_two_ranks_stay_in_sync_and_shard_the_bank(tmp_path):
    _run(tmp_path)
    a, b = (torch.load(tmp_path / f"rank{r}.pt") for r in range(2))
    assert a["trained"].keys() == b["trained"].keys()
    # every rank saw different spots, yet the averaged gradients keep the weights identical
    for name, value in a["trained"].items():
        if "running_" in name or "num_batches_tracked" in name:
            continue  # BatchNorm statistics are per rank, as in torch's DDP
        torch.testing.assert_close(value, b["trained"][name], rtol=0, atol=1e-6, msg=name)
    # and training moved them from the same start
    for name in a["initial"]:
        torch.testing.assert_close(a["initial"][name], b["initial"][name], rtol=0, atol=0)
    moved = [n for n, v in a["trained"].items() if v.is_floating_point() and not torch.equal(v, a["initial"][n])]
    assert len(moved) > len(a["trained"]) // 2

    got = [torch.load(tmp_path / f"sharded{r}.pt") for r in range(2)]
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

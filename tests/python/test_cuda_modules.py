"""The C++ modules on CUDA against the CPU: SCR2Net forward, one SCR2Net training step (the full
objective: retrieval over the bank, soft labels, soft-label and contrastive losses, backward, an SGD
step), the dense model read out with spot_pool, and the patch regressor. float64, so the devices
agree to rounding."""
from __future__ import annotations

import pytest
import torch

import stx
from stx.modules import DenseExpressionNet, PatchRegressor, SCR2Net

pytestmark = pytest.mark.cuda


def twins(make, device):
    """The same initial module on the CPU and on `device`, in float64. (The modules' `to` is the C++
    module's: it converts in place and returns None.)"""
    torch.manual_seed(0)
    cpu, dev = make(), make()
    cpu.to(torch.float64)
    dev.to(torch.float64)
    dev.load_state_dict(cpu.state_dict())
    dev.to(torch.device(device))
    return cpu, dev


def params(module) -> dict:
    return dict(module.named_parameters())


def make_scr2net():
    return SCR2Net(num_genes=12, small_cnn_width=8, hidden_dim=32, projection_dim=16, dropout=0.0)


def assert_params_close(a, b, rtol=1e-8, atol=1e-10):
    pa, pb = params(a), params(b)
    assert pa.keys() == pb.keys()
    for name in pa:
        torch.testing.assert_close(pb[name].detach().cpu(), pa[name].detach(), rtol=rtol, atol=atol,
                                   msg=lambda m, name=name: f"{name}: {m}")


def batch(seed=1, B=8, G=12, N=96):
    gen = torch.Generator().manual_seed(seed)
    images = torch.rand(B, 3, 32, 32, generator=gen, dtype=torch.float64)
    targets = torch.rand(B, G, generator=gen, dtype=torch.float64).log1p()
    bank_values = (torch.rand(N, G, generator=gen, dtype=torch.float64) * 5).log1p()
    bank_labels = torch.randint(0, 4, (N,), generator=gen)
    return images, targets, bank_values, bank_labels


def test_scr2net_forward_agrees(gpu):
    cpu, dev = twins(make_scr2net, gpu)
    images = batch()[0]
    for net in (cpu, dev):
        net.eval()
    f_cpu, p_cpu = cpu(images)
    f_dev, p_dev = dev(images.to(gpu))
    assert p_dev.device.type == torch.device(gpu).type
    torch.testing.assert_close(f_dev.cpu(), f_cpu, rtol=1e-9, atol=1e-10)
    torch.testing.assert_close(p_dev.cpu(), p_cpu, rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("retrieval", [True, False])
def test_scr2net_training_step_agrees(gpu, retrieval):
    cpu, dev = twins(make_scr2net, gpu)
    data = batch()
    results = []
    for net, device in ((cpu, "cpu"), (dev, gpu)):
        net.train()
        opt = torch.optim.SGD(net.parameters(), lr=0.05)
        opt.zero_grad()
        loss, pred = net.training_loss(*(t.to(device) for t in data), retrieval=retrieval, k=10, num_types=2)
        loss.backward()
        # parameters the objective does not reach (the projection heads without retrieval) have no grad
        grads = {name: p.grad.detach().cpu().clone() for name, p in params(net).items() if p.grad is not None}
        opt.step()
        results.append((loss.detach().cpu(), pred.detach().cpu(), grads))
    (l_cpu, p_cpu, g_cpu), (l_dev, p_dev, g_dev) = results
    torch.testing.assert_close(l_dev, l_cpu, rtol=1e-9, atol=1e-12)
    torch.testing.assert_close(p_dev, p_cpu, rtol=1e-9, atol=1e-10)
    assert g_cpu.keys() == g_dev.keys() and len(g_cpu) > 4 and any(g.abs().sum() > 0 for g in g_cpu.values())
    for name in g_cpu:
        torch.testing.assert_close(g_dev[name], g_cpu[name], rtol=1e-7, atol=1e-10,
                                   msg=lambda m, name=name: f"grad of {name}: {m}")
    assert_params_close(cpu, dev)


def test_dense_model_with_spot_pool_readout_agrees(gpu):
    cpu, dev = twins(lambda: DenseExpressionNet(num_genes=5, width=8, decoder_channels=8), gpu)
    images = batch()[0][:2]
    centers = torch.tensor([[0, 10.0, 12.0], [1, 20.5, 3.0], [1, 31.0, 31.0], [0, -5.0, 4.0]], dtype=torch.float64)
    radii = torch.tensor([4.0, 2.5, 6.0, 3.0], dtype=torch.float64)
    outs = []
    for net, device in ((cpu, "cpu"), (dev, gpu)):
        dense = net(images.to(device))
        spots = stx.ops.spot_pool(dense, centers.to(device), radii.to(device), "disk", "mean")
        spots.square().sum().backward()
        outs.append((spots.detach().cpu(), {n: p.grad.detach().cpu() for n, p in params(net).items()}))
    torch.testing.assert_close(outs[1][0], outs[0][0], rtol=1e-9, atol=1e-10)
    for name, g in outs[0][1].items():
        torch.testing.assert_close(outs[1][1][name], g, rtol=1e-7, atol=1e-10)


def test_patch_regressor_agrees(gpu):
    cpu, dev = twins(lambda: PatchRegressor(num_genes=4, small_cnn_width=8, hidden_dim=16, dropout=0.0), gpu)
    images = batch()[0]
    cpu.eval()
    dev.eval()
    torch.testing.assert_close(dev(images.to(gpu)).detach().cpu(), cpu(images).detach(), rtol=1e-9, atol=1e-10)

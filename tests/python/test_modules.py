"""The C++ modules from Python: nn.Module behaviour, checkpoints, TorchScript backbones."""
from __future__ import annotations

import pytest
import torch

from stx.modules import DenseExpressionNet, PatchRegressor, SCR2Net


def test_scr2net_is_a_trainable_module_and_round_trips_its_state(tmp_path):
    torch.manual_seed(0)
    net = SCR2Net(num_genes=6, small_cnn_width=8, hidden_dim=16, projection_dim=8, dropout=0.0)
    assert isinstance(net, torch.nn.Module)
    images, target = torch.randn(4, 3, 24, 24), torch.randn(4, 6)
    opt = torch.optim.Adam(net.parameters(), lr=1e-2)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.mse_loss(net(images)[1], target)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.5 * losses[0]

    torch.save(net.state_dict(), tmp_path / "ckpt.pt")
    other = SCR2Net(num_genes=6, small_cnn_width=8, hidden_dim=16, projection_dim=8, dropout=0.0)
    other.load_state_dict(torch.load(tmp_path / "ckpt.pt"))
    net.eval()
    other.eval()
    torch.testing.assert_close(net(images)[1], other(images)[1], rtol=0, atol=0)


def test_load_state_dict_rejects_another_gene_set():
    a, b = SCR2Net(num_genes=6, small_cnn_width=8), SCR2Net(num_genes=7, small_cnn_width=8)
    with pytest.raises(RuntimeError, match="shape"):
        b.load_state_dict(a.state_dict())


def test_torchscript_backbone_file(tmp_path):
    class Tiny(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 5, 3)

        def forward(self, x):
            return self.conv(x)  # [B, 5, h, w]: pooled by stx

    path = tmp_path / "tiny.pt"
    torch.jit.script(Tiny()).save(str(path))
    net = PatchRegressor(num_genes=3, backbone=str(path), hidden_dim=8)
    out = net(torch.randn(2, 3, 16, 16))
    assert out.shape == (2, 3)
    out.sum().backward()
    grads = [p.grad for p in net.parameters()]
    assert all(g is not None for g in grads)
    assert len(grads) == 2 + 4  # conv weight+bias from the TorchScript file, two Linear layers


def test_dense_net_and_bad_input():
    net = DenseExpressionNet(num_genes=4, width=8, decoder_channels=8)
    assert net(torch.randn(1, 3, 20, 36)).shape == (1, 4, 20, 36)
    with pytest.raises(RuntimeError, match="images must be"):
        net(torch.randn(3, 20, 36))
    with pytest.raises(RuntimeError, match="num_genes"):
        SCR2Net(num_genes=0)

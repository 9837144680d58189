"""The native torchvision backbones (stx/modules/torchvision_nets.h) and weight files.

References: torchvision's published parameter counts and state_dict layout (and torchvision itself,
when it is installed, for outputs); torch.load(weights_only=True) for the C++ weight-file reader.
"""
from __future__ import annotations

import os
from collections import OrderedDict

import pytest
import torch

from stx.modules import PatchRegressor, TorchvisionNet, read_state_dict_file, torchvision_net_names

# torchvision's documented parameter counts with the 1000-class ImageNet classifier.
TORCHVISION_PARAMS = {
    "resnet18": 11_689_512,
    "resnet50": 25_557_032,
    "densenet121": 7_978_856,
    "mobilenet_v2": 3_504_872,
    "efficientnet_b0": 5_288_548,
}

# A few torchvision state_dict keys per architecture with their shapes (deep in each network).
TORCHVISION_KEYS = {
    "resnet18": {"layer1.0.conv2.weight": (64, 64, 3, 3), "layer4.1.bn2.running_var": (512,),
                 "layer3.0.downsample.0.weight": (256, 128, 1, 1)},
    "resnet50": {"layer4.2.conv3.weight": (2048, 512, 1, 1), "layer1.0.downsample.0.weight": (256, 64, 1, 1),
                 "layer2.0.conv2.weight": (128, 128, 3, 3)},
    "densenet121": {"features.denseblock4.denselayer16.conv2.weight": (32, 128, 3, 3),
                    "features.transition3.conv.weight": (512, 1024, 1, 1), "features.norm5.running_var": (1024,),
                    "features.conv0.weight": (64, 3, 7, 7)},
    "mobilenet_v2": {"features.18.0.weight": (1280, 320, 1, 1), "features.1.conv.0.0.weight": (32, 1, 3, 3),
                     "features.1.conv.1.weight": (16, 32, 1, 1), "features.17.conv.2.weight": (320, 960, 1, 1)},
    "efficientnet_b0": {"features.1.0.block.1.fc1.weight": (8, 32, 1, 1), "features.2.0.block.0.0.weight": (96, 16, 1, 1),
                        "features.6.3.block.3.0.weight": (192, 1152, 1, 1), "features.8.0.weight": (1280, 320, 1, 1),
                        "features.5.2.block.1.0.weight": (672, 1, 5, 5)},
}
ARCHS = sorted(TORCHVISION_PARAMS)


def randomised(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random BatchNorm statistics too, so eval-mode outputs depend on every buffer."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, t in net.state_dict().items():
            if name.endswith("running_var"):
                t.copy_(torch.rand(t.shape, generator=g) + 0.5)
            elif name.endswith("running_mean") or name.endswith("bias"):
                t.copy_(torch.randn(t.shape, generator=g) * 0.1)
    return net


def evaluated(net):
    """eval mode (the C++ module wrappers' eval() returns None, so it cannot be chained)."""
    net.eval()
    return net


def test_the_architecture_list():
    assert sorted(torchvision_net_names()) == ARCHS


@pytest.mark.parametrize("arch", ARCHS)
def test_parameter_counts_and_keys_are_torchvisions(arch):
    net = TorchvisionNet(arch)
    backbone = sum(p.numel() for p in net.parameters())
    classifier = net.out_dim * 1000 + 1000
    assert backbone + classifier == TORCHVISION_PARAMS[arch]
    state = net.state_dict()
    for key, shape in TORCHVISION_KEYS[arch].items():
        assert tuple(state[key].shape) == shape, key
    assert not any(k.startswith(net.classifier_prefix) for k in state)
    out = evaluated(net)(torch.randn(2, 3, 32, 32))
    assert out.shape == (2, net.out_dim)


@pytest.mark.parametrize("arch", ARCHS)
def test_outputs_equal_torchvisions(arch, tmp_path):
    models = pytest.importorskip("torchvision.models")
    torch.manual_seed(0)
    reference = evaluated(randomised(getattr(models, arch)(weights=None)))
    path = tmp_path / f"{arch}.pt"
    torch.save(reference.state_dict(), path)
    native = evaluated(TorchvisionNet(arch, weights=str(path)))
    images = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        torch.testing.assert_close(native(images), _torchvision_features(reference, images), rtol=1e-4, atol=1e-5)
    assert sum(p.numel() for p in native.parameters()) + native.out_dim * 1000 + 1000 == sum(
        p.numel() for p in reference.parameters())


def _torchvision_features(model, images):
    """The pooled features of a torchvision classifier: its forward with the classifier replaced."""
    head = "fc" if hasattr(model, "fc") else "classifier"
    saved = getattr(model, head)
    setattr(model, head, torch.nn.Identity())
    try:
        return model(images)
    finally:
        setattr(model, head, saved)


@pytest.mark.parametrize("arch", ARCHS)
def test_a_weights_file_reproduces_the_saved_models_outputs(arch, tmp_path):
    torch.manual_seed(1)
    saved = evaluated(randomised(TorchvisionNet(arch), seed=1))
    state = OrderedDict(saved.state_dict())
    # a full torchvision state_dict also holds the classifier, which the backbone skips
    state[saved.classifier_prefix + "weight"] = torch.randn(1000, saved.out_dim)
    state[saved.classifier_prefix + "bias"] = torch.randn(1000)
    path = tmp_path / "weights.pt"
    torch.save(state, path)
    torch.manual_seed(2)
    loaded = evaluated(TorchvisionNet(arch, weights=str(path)))
    images = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(loaded(images), saved(images), rtol=0, atol=0)


def test_patch_regressor_takes_a_backbone_weights_file_and_reports_parameters(tmp_path):
    source = evaluated(randomised(TorchvisionNet("mobilenet_v2"), seed=3))
    path = tmp_path / "mnv2.pt"
    torch.save(source.state_dict(), path)
    net = evaluated(PatchRegressor(num_genes=5, backbone="mobilenet_v2", hidden_dim=16, backbone_weights=str(path)))
    assert net.backbone_parameters == TORCHVISION_PARAMS["mobilenet_v2"] - 1280 * 1000 - 1000
    assert net.head_parameters == (1280 * 16 + 16) + (16 * 5 + 5)
    state = net.state_dict()
    for key, value in source.state_dict().items():
        torch.testing.assert_close(state["backbone." + key], value, rtol=0, atol=0)
    assert net(torch.randn(2, 3, 32, 32)).shape == (2, 5)


def test_the_reader_agrees_with_torch_load(tmp_path):
    base = torch.arange(24, dtype=torch.float32).reshape(4, 6)
    state = OrderedDict(
        [("w", torch.randn(3, 5)), ("t", base.t()), ("view", base[1:, 2:5]), ("half", torch.randn(4).half()),
         ("steps", torch.tensor(7)), ("mask", torch.tensor([True, False])), ("empty", torch.zeros(0, 3))])
    path = tmp_path / "state.pt"
    torch.save(state, path)
    reference = torch.load(path, weights_only=True)
    read = read_state_dict_file(str(path))
    assert [k for k, _ in read] == list(reference)
    for (_, got), want in zip(read, reference.values()):
        assert got.dtype == want.dtype and got.shape == want.shape
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_a_weights_file_of_another_architecture_names_the_file_and_the_first_bad_key(tmp_path):
    path = tmp_path / "resnet18.pt"
    torch.save(TorchvisionNet("resnet18").state_dict(), path)
    # conv1 and bn1 fit both; resnet18's first 3x3 block conv is a 1x1 conv in resnet50
    with pytest.raises(RuntimeError, match=r"resnet18\.pt.*'layer1\.0\.conv1\.weight' has shape"):
        TorchvisionNet("resnet50", weights=str(path))
    with pytest.raises(RuntimeError, match=r"resnet18\.pt.*'conv1\.weight' is not a tensor of densenet121"):
        TorchvisionNet("densenet121", weights=str(path))
    state = TorchvisionNet("resnet18").state_dict()
    del state["layer2.1.bn1.running_mean"]
    torch.save(state, path)
    with pytest.raises(RuntimeError, match=r"resnet18\.pt.*no tensor for 'layer2\.1\.bn1\.running_mean'"):
        TorchvisionNet("resnet18", weights=str(path))


def test_unreadable_and_unsafe_weights_files_are_clear_errors(tmp_path):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a zip archive")
    with pytest.raises(RuntimeError, match=r"garbage\.pt: not a torch\.save archive"):
        TorchvisionNet("resnet18", weights=str(garbage))
    with pytest.raises(RuntimeError, match=r"missing\.pt: no such file"):
        TorchvisionNet("resnet18", weights=str(tmp_path / "missing.pt"))

    marker = tmp_path / "executed"

    class Payload:
        def __reduce__(self):
            return (os.system, (f"touch {marker}",))

    unsafe = tmp_path / "unsafe.pt"
    torch.save({"conv1.weight": Payload()}, unsafe)
    with pytest.raises(RuntimeError, match=r"unsafe\.pt: refers to '(posix|os)\.system'.*refused"):
        TorchvisionNet("resnet18", weights=str(unsafe))
    assert not marker.exists()

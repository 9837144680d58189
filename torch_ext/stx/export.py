"""``torch.export`` and AOTInductor packaging of stx models, for deployment from C++ without Python.

The C++ modules (``stx.modules.SCR2Net``, ``DenseExpressionNet``) run their forward in C++, which
``torch.export`` cannot trace. This module mirrors their forward in Python over the same parameters
and buffers (same names, loaded from the C++ module's ``state_dict``), so an exported program holds
ATen and ``torch.ops.stx`` calls only:

- :class:`SCR2NetForward`: ``images -> (features, log1p prediction)``, SCR2Net's ``forward``;
- :class:`DenseSpotModel`: a ``DenseExpressionNet`` map read out with ``torch.ops.stx.spot_pool``,
  ``(images, centers, radii) -> spot expression [N, G]``.

:func:`export` calls ``torch.export.export`` (batch and spot counts dynamic), :func:`package` writes
an AOTInductor ``.pt2``. A C++ program loads that file with ``torch::inductor::AOTIModelPackageLoader``
after linking ``stx::stx`` (which registers the stx operators the package calls); see docs/interop.md
and ``examples/aoti_run``. The mirrors are evaluation-mode models (BatchNorm running statistics, no
dropout), as deployed.
"""
from __future__ import annotations

import os
import re
from typing import Optional, Sequence

import torch
from torch import nn

__all__ = ["SCR2NetForward", "DenseSpotModel", "export", "package"]


def _state(module: nn.Module) -> dict:
    return {name: tensor.detach().clone() for name, tensor in module.state_dict().items()}


def _small_cnn(state: dict, prefix: str, who: str) -> nn.Sequential:
    """The stages of a ``SmallCNN`` (``<prefix>stage<s>.<0..5>``: conv-BN-ReLU twice, the first conv
    with stride 2) rebuilt from the parameter shapes, as an ``nn.Sequential`` of stages."""
    stages = nn.Module()
    names = sorted({int(m.group(1)) for k in state if (m := re.match(re.escape(prefix) + r"stage(\d+)\.", k))})
    if not names or names != list(range(len(names))):
        raise ValueError(f"{who}: expected a SmallCNN backbone (parameters {prefix}stage<s>.*); a TorchScript "
                         "backbone runs its own code and is not exportable this way")
    for s in names:
        conv0 = state[f"{prefix}stage{s}.0.weight"]
        conv3 = state[f"{prefix}stage{s}.3.weight"]
        stage = nn.Sequential(
            nn.Conv2d(conv0.shape[1], conv0.shape[0], 3, stride=2, padding=1, bias=False),
            nn.BatchNorm2d(conv0.shape[0]), nn.ReLU(inplace=True),
            nn.Conv2d(conv3.shape[1], conv3.shape[0], 3, stride=1, padding=1, bias=False),
            nn.BatchNorm2d(conv3.shape[0]), nn.ReLU(inplace=True))
        stages.add_module(f"stage{s}", stage)
    return stages


def _pyramid(stages: nn.Module, images: torch.Tensor) -> list[torch.Tensor]:
    levels, x = [], images
    for stage in stages.children():
        x = stage(x)
        levels.append(x)
    return levels


class _MLPHead(nn.Module):
    def __init__(self, fc1: torch.Tensor, fc2: torch.Tensor) -> None:
        super().__init__()
        self.fc1 = nn.Linear(fc1.shape[1], fc1.shape[0])
        self.fc2 = nn.Linear(fc2.shape[1], fc2.shape[0])

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(torch.relu(self.fc1(x)))


class SCR2NetForward(nn.Module):
    """SCR2Net's ``forward`` (SmallCNN backbone -> global mean pool -> MLP regressor) in Python over a
    copy of ``net``'s parameters: ``images [B, 3, H, W] -> (features [B, F], prediction [B, G])``."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        state = _state(net)
        self.backbone = _small_cnn(state, "backbone.", "SCR2NetForward")
        self.regressor = _MLPHead(state["regressor.fc1.weight"], state["regressor.fc2.weight"])
        own = {k: v for k, v in state.items() if k.startswith(("backbone.", "regressor."))}
        self.load_state_dict(own, strict=True)
        self.eval()

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = _pyramid(self.backbone, images)[-1].mean((2, 3))
        return features, self.regressor(features)


class _DenseHead(nn.Module):
    def __init__(self, state: dict, levels: int, nonnegative: bool) -> None:
        super().__init__()
        for level in range(levels):
            lateral = state[f"head.lateral{level}.weight"]
            self.add_module(f"lateral{level}", nn.Conv2d(lateral.shape[1], lateral.shape[0], 1))
            d = lateral.shape[0]
            self.add_module(f"smooth{level}", nn.Sequential(nn.Conv2d(d, d, 3, padding=1, bias=False),
                                                            nn.BatchNorm2d(d), nn.ReLU(inplace=True)))
        out = state["head.out.weight"]
        self.out = nn.Conv2d(out.shape[1], out.shape[0], 1)
        self.levels, self.nonnegative = levels, nonnegative

    def forward(self, pyramid: list[torch.Tensor], height: int, width: int) -> torch.Tensor:
        x: Optional[torch.Tensor] = None
        for level in range(self.levels - 1, -1, -1):
            lateral = getattr(self, f"lateral{level}")(pyramid[level])
            if x is not None:
                lateral = lateral + nn.functional.interpolate(x, size=lateral.shape[2:], mode="bilinear",
                                                              align_corners=False)
            x = getattr(self, f"smooth{level}")(lateral)
        maps = nn.functional.interpolate(self.out(x), size=(height, width), mode="bilinear", align_corners=False)
        return nn.functional.softplus(maps) if self.nonnegative else maps


class DenseSpotModel(nn.Module):
    """A ``DenseExpressionNet`` (SmallCNN encoder + PixNet-style dense head) read out at spots with
    ``torch.ops.stx.spot_pool``: ``(images [B, 3, H, W], centers [N, 3] (batch, y, x) px, radii [N])
    -> spot expression [N, G]``. ``nonnegative`` must match the net's (the C++ module does not expose it);
    ``shape``, ``reduce`` and ``sigma`` are spot_pool's."""

    def __init__(self, net: nn.Module, *, nonnegative: bool = False, shape: str = "disk", reduce: str = "mean",
                 sigma: float = 0.5) -> None:
        super().__init__()
        state = _state(net)
        self.encoder = _small_cnn(state, "encoder.", "DenseSpotModel")
        levels = len(list(self.encoder.children()))
        self.head = _DenseHead(state, levels, nonnegative)
        self.load_state_dict(state, strict=True)
        self.shape, self.reduce, self.sigma = shape, reduce, float(sigma)
        self.eval()

    def dense(self, images: torch.Tensor) -> torch.Tensor:
        """The expression map [B, G, H, W] (the C++ module's ``forward``)."""
        return self.head(_pyramid(self.encoder, images), images.shape[2], images.shape[3])

    def forward(self, images: torch.Tensor, centers: torch.Tensor, radii: torch.Tensor) -> torch.Tensor:
        return torch.ops.stx.spot_pool(self.dense(images), centers, radii, self.shape, self.reduce, self.sigma)[0]


def export(model: nn.Module, example_inputs: Sequence[torch.Tensor], *, dynamic: bool = True):
    """``torch.export.export`` of :class:`SCR2NetForward` or :class:`DenseSpotModel` (or any module
    whose inputs are tensors). With ``dynamic``, the first dimension of every input (images: batch;
    centers and radii: the number of spots) may change at run time."""
    example_inputs = tuple(example_inputs)
    dynamic_shapes = None
    if dynamic:
        dims = {}
        shapes = []
        for tensor in example_inputs:
            size = int(tensor.shape[0]) if tensor.dim() else 0
            key = "spots" if isinstance(model, DenseSpotModel) and tensor is not example_inputs[0] else "batch"
            if tensor.dim() == 0 or size < 2:  # export specialises sizes 0 and 1
                shapes.append(None)
                continue
            dims.setdefault(key, torch.export.Dim(key, min=1))
            shapes.append({0: dims[key]})
        dynamic_shapes = tuple(shapes)
    with torch.no_grad():
        return torch.export.export(model.eval(), example_inputs, dynamic_shapes=dynamic_shapes)


def package(exported, path: str | os.PathLike) -> str:
    """Compiles an exported program with AOTInductor into the ``.pt2`` package at ``path`` (loaded
    from C++ by ``torch::inductor::AOTIModelPackageLoader``, from Python by
    ``torch._inductor.aoti_load_package``) and returns the path."""
    import torch._inductor

    return torch._inductor.aoti_compile_and_package(exported, package_path=os.fspath(path))

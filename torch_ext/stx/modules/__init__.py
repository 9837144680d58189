"""C++ ``torch::nn`` modules of stx, usable as ordinary ``torch.nn.Module`` objects.

- ``SCR2Net(num_genes, backbone="small_cnn" | "<torchscript file>", ...)``: ``forward(images) ->
  (features, log1p prediction)``, ``image_embedding(features)``, ``gene_embedding(log_expression)``.
- ``PatchRegressor(num_genes, ...)``: the single-patch baseline.
- ``DenseExpressionNet(num_genes, ...)``: PixNet-style dense map ``[B, G, H, W]``, read out with
  ``stx.ops.spot_pool``.
- ``SmallCNN``: the compact native backbone.
- ``NucleusNet(num_types, ...)``: HoVer-Net-style nucleus model, ``forward(images) -> (nuclear
  logits, hv maps, type logits)``, trained with ``nucleus_loss``; ``stx.ops.hv_instances`` makes nuclei.
- ``TorchvisionNet(arch, weights="")``: native C++ ResNet-18/50, DenseNet-121, MobileNetV2 and
  EfficientNet-B0 (``torchvision_net_names()``) up to global pooling; their ``state_dict`` keys are
  torchvision's, so ``torch.save(torchvision_model.state_dict())`` files load into them
  (``weights=``, read weights-only in C++; the classifier keys are skipped).

The classes are C++ modules wrapped by ``torch.nn.cpp.ModuleWrapper``; their children are C++
objects, so ``state_dict``/``load_state_dict`` are taken from the C++ parameter and buffer tables
(the same names a C++ program sees with ``named_parameters()``/``named_buffers()``).
"""
from __future__ import annotations

from collections import OrderedDict

import torch

from stx._C import modules as _cpp


def _state_dict(self, *args, destination=None, prefix="", keep_vars=False):
    out = OrderedDict() if destination is None else destination
    for table in (self.cpp_module.named_parameters(True), self.cpp_module.named_buffers(True)):
        for name, tensor in table.items():
            out[prefix + name] = tensor if keep_vars else tensor.detach()
    return out


def _load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
    own = _state_dict(self, keep_vars=True)
    missing = [k for k in own if k not in state_dict]
    unexpected = [k for k in state_dict if k not in own]
    if strict and (missing or unexpected):
        raise RuntimeError(f"{type(self).__name__}.load_state_dict: missing keys {missing}, unexpected keys {unexpected}")
    with torch.no_grad():
        for name, tensor in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            if value.shape != tensor.shape:
                raise RuntimeError(
                    f"{type(self).__name__}.load_state_dict: '{name}' has shape {tuple(value.shape)} in the "
                    f"checkpoint but {tuple(tensor.shape)} in the model"
                )
            tensor.copy_(value)
    return torch.nn.modules.module._IncompatibleKeys(missing, unexpected)


def _wrap(cls):
    cls.state_dict = _state_dict
    cls.load_state_dict = _load_state_dict
    return cls


SCR2Net = _wrap(_cpp.SCR2Net)
PatchRegressor = _wrap(_cpp.PatchRegressor)
DenseExpressionNet = _wrap(_cpp.DenseExpressionNet)
SmallCNN = _wrap(_cpp.SmallCNN)
NucleusNet = _wrap(_cpp.NucleusNet)
nucleus_loss = _cpp.nucleus_loss
TorchvisionNet = _wrap(_cpp.TorchvisionNet)
torchvision_net_names = _cpp.torchvision_net_names
read_state_dict_file = _cpp.read_state_dict_file

__all__ = ["SCR2Net", "PatchRegressor", "DenseExpressionNet", "SmallCNN", "NucleusNet", "nucleus_loss",
           "TorchvisionNet", "torchvision_net_names", "read_state_dict_file"]

"""Fake kernels of the loss family (scalar losses and their backward ops)."""
from __future__ import annotations

import torch

from stx._fake import register_fake


def _grad_like(t, needed):
    return torch.empty_like(t) if needed else t.new_empty((0,))


@register_fake("stx::soft_label_loss")
def _soft_label_loss_fake(pred, target, soft, confidence, weight=0.01, threshold=0.1, base="mse", delta=1.0):
    return pred.new_empty(())


@register_fake("stx::_soft_label_loss_backward")
def _soft_label_loss_backward_fake(grad, pred, target, soft, confidence, weight, threshold, base, delta, output_mask):
    return _grad_like(pred, output_mask[0]), _grad_like(target, output_mask[1]), _grad_like(soft, output_mask[2])


@register_fake("stx::pearson_loss")
def _pearson_loss_fake(pred, target, dim=0, eps=1e-8):
    return pred.new_empty(())


@register_fake("stx::_pearson_loss_backward")
def _pearson_loss_backward_fake(grad, pred, target, dim, eps, output_mask):
    return _grad_like(pred, output_mask[0]), _grad_like(target, output_mask[1])


@register_fake("stx::contrastive_loss")
def _contrastive_loss_fake(a, b, temperature=0.5):
    return a.new_empty(())


@register_fake("stx::_contrastive_loss_backward")
def _contrastive_loss_backward_fake(grad, a, b, temperature):
    return torch.empty_like(a), torch.empty_like(b)

"""One small valid call of every torch.ops.stx operator, shared by the fake-kernel device tests
and the op fuzz runner: ``VALID_CALLS[name]()`` returns ``(op, args)`` with CPU tensors."""
from __future__ import annotations

import torch

import stx  # noqa: F401  (registers torch.ops.stx)

ops = torch.ops.stx


def _spot_pool():
    return ops.spot_pool, [torch.rand(2, 3, 8, 8), torch.tensor([[0, 4.0, 4.0], [1, 2.0, 6.0]]), torch.tensor([2.0, 1.5])]


def _spot_splat():
    return ops.spot_splat, [torch.rand(2, 3), torch.tensor([[0, 4.0, 4.0], [1, 2.0, 6.0]]), torch.tensor([2.0, 1.5]),
                            2, 8, 8]


def _label_pool():
    return ops.label_pool, [torch.rand(2, 3, 8, 8), torch.randint(0, 5, (2, 8, 8)), 5]


def _label_pool_backward():
    return ops._label_pool_backward, [torch.rand(2, 5, 3), torch.randint(0, 5, (2, 8, 8)),
                                      torch.randint(1, 9, (2, 5))]


def _soft_label_loss():
    return ops.soft_label_loss, [torch.rand(6, 4), torch.rand(6, 4), torch.rand(6, 4), torch.rand(6)]


def _soft_label_loss_backward():
    return ops._soft_label_loss_backward, [torch.tensor(1.0), torch.rand(6, 4), torch.rand(6, 4), torch.rand(6, 4),
                                           torch.rand(6), 0.01, 0.1, "mse", 1.0, [True, True, True]]


def _pearson_loss():
    return ops.pearson_loss, [torch.randn(10, 4), torch.randn(10, 4)]


def _pearson_loss_backward():
    return ops._pearson_loss_backward, [torch.tensor(1.0), torch.randn(10, 4), torch.randn(10, 4), 0, 1e-8,
                                        [True, True]]


def _contrastive_loss():
    return ops.contrastive_loss, [torch.randn(6, 5), torch.randn(6, 5)]


def _contrastive_loss_backward():
    return ops._contrastive_loss_backward, [torch.tensor(1.0), torch.randn(6, 5), torch.randn(6, 5), 0.5]


def _pearson_per_gene():
    return ops.pearson_per_gene, [torch.randn(10, 4), torch.randn(10, 4)]


def _morans_i():
    return ops.morans_i, [torch.randn(12, 3), torch.rand(12, 2)]


def _cosine_topk():
    return ops.cosine_topk, [torch.randn(5, 8), torch.randn(20, 8), 4]


def _majority_filter():
    return ops.majority_filter, [torch.randint(0, 20, (5, 4)), torch.randint(0, 6, (20,)), 2]


def _merge_topk():
    return ops.merge_topk, [torch.randn(3, 5, 4), torch.randint(0, 30, (3, 5, 4)), 4]


def _soft_labels():
    return ops.soft_labels, [torch.randint(0, 20, (5, 4)), torch.rand(5, 4), torch.ones(5, 4, dtype=torch.bool),
                             torch.rand(20, 3)]


def _soft_labels_backward():
    return ops._soft_labels_backward, [torch.rand(5, 3), torch.rand(5), torch.randint(0, 20, (5, 4)), torch.rand(5, 4),
                                       torch.ones(5, 4, dtype=torch.bool), torch.rand(20, 3), "mean", 1.0,
                                       [True, True]]


def _instance_maps():
    g = torch.Generator().manual_seed(0)
    return torch.randint(0, 4, (8, 8), generator=g), torch.randint(0, 4, (8, 8), generator=g)


def _instance_metrics():
    return ops.instance_metrics, [*_instance_maps(), 0.5]


def _instance_class_metrics():
    t, p = _instance_maps()
    return ops.instance_class_metrics, [t, p, (t > 0).long() * 2, (p > 0).long(), 3, 0.5]


def _hv_maps():
    return ops.hv_maps, [_instance_maps()[0]]


def _hv_instances():
    t = _instance_maps()[0]
    return ops.hv_instances, [(t > 0).float(), ops.hv_maps(t), 0.5, 0.4, 2]


def _cell_table():
    g = torch.Generator().manual_seed(1)
    return torch.rand(12, 6, generator=g), torch.rand(20, 6, generator=g), torch.randint(0, 3, (20,), generator=g)


def _cell_type_reference():
    return ops.cell_type_reference, [*_cell_table(), 3, "knn", 5, 0.0]


def _rank_marker_genes():
    expr, _, _ = _cell_table()
    return ops.rank_marker_genes, [expr, torch.arange(12) % 3, 3, 4]


def _cell_type_markers():
    expr, _, _ = _cell_table()
    return ops.cell_type_markers, [expr, torch.arange(12) % 3, (torch.rand(2, 6) > 0.5).double(), 4, 0.2]


VALID_CALLS = {
    "spot_pool": _spot_pool, "spot_splat": _spot_splat, "label_pool": _label_pool,
    "_label_pool_backward": _label_pool_backward, "soft_label_loss": _soft_label_loss,
    "_soft_label_loss_backward": _soft_label_loss_backward, "pearson_loss": _pearson_loss,
    "_pearson_loss_backward": _pearson_loss_backward, "contrastive_loss": _contrastive_loss,
    "_contrastive_loss_backward": _contrastive_loss_backward, "pearson_per_gene": _pearson_per_gene,
    "morans_i": _morans_i, "cosine_topk": _cosine_topk, "majority_filter": _majority_filter,
    "merge_topk": _merge_topk, "soft_labels": _soft_labels, "_soft_labels_backward": _soft_labels_backward,
    "instance_metrics": _instance_metrics, "instance_class_metrics": _instance_class_metrics,
    "hv_maps": _hv_maps, "hv_instances": _hv_instances, "cell_type_reference": _cell_type_reference,
    "rank_marker_genes": _rank_marker_genes, "cell_type_markers": _cell_type_markers,
}

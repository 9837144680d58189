"""Python entry points for the ``torch.ops.stx`` operators: defaults, docstrings, and argument
normalisation around the dispatched ops. One module per op family (the families of ``ops/<family>.cpp``
and ``docs/ops/<family>.md``), each listing its public names in ``__all__``; this package re-exports them.
"""
from __future__ import annotations

from stx.ops import cell_typing as _cell_typing
from stx.ops import instance_metrics as _instance_metrics
from stx.ops import label_pool as _label_pool
from stx.ops import losses as _losses
from stx.ops import metrics as _metrics
from stx.ops import nucleus_maps as _nucleus_maps
from stx.ops import retrieval as _retrieval
from stx.ops import soft_labels as _soft_labels
from stx.ops import spot_pool as _spot_pool
from stx.ops.cell_typing import cell_type_markers, cell_type_reference, marker_matrix, rank_marker_genes
from stx.ops.instance_metrics import instance_class_metrics, instance_metrics
from stx.ops.label_pool import label_pool
from stx.ops.losses import contrastive_loss, pearson_loss, soft_label_loss
from stx.ops.metrics import morans_i, pcc_summary, pearson_per_gene
from stx.ops.nucleus_maps import hv_instances, hv_maps
from stx.ops.retrieval import cosine_topk, filtered_topk, majority_filter, merge_topk
from stx.ops.soft_labels import soft_labels
from stx.ops.spot_pool import spot_pool, spot_splat

FAMILIES = {module.__name__.rsplit(".", 1)[1]: module
            for module in (_spot_pool, _label_pool, _retrieval, _soft_labels, _losses, _metrics,
                            _instance_metrics, _nucleus_maps, _cell_typing)}
__all__ = [name for module in FAMILIES.values() for name in module.__all__]

"""The metrics of every run, from the C++ training layer (include/stx/train/metrics.h): one key set
(mse, mae, pcc_f, pcc_s, pcc_m, genes_pcc_ge_0_3, n_genes, n_spots, ...) for both front ends."""
from __future__ import annotations

import torch

from stx._C import train as _train

METRIC_KEYS = tuple(_train.metric_keys())


def regression_metrics(pred: torch.Tensor, target: torch.Tensor, coords: torch.Tensor | None = None,
                       gene_names: list[str] | None = None, morans_k: int = 6) -> dict:
    return _train.regression_metrics(pred, target, coords, list(gene_names or []), morans_k)


def mean_predictor_metrics(train_target: torch.Tensor, test_target: torch.Tensor) -> dict:
    """The baseline that predicts every test spot as the mean training profile."""
    return _train.mean_predictor_metrics(train_target.double().mean(0), test_target)

"""Build the immutable inputs of the sampling env: a single-cell prior and a task (a section with
each spot's nearest single-cell centroid and cell type precomputed once, in C++)."""
from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from stx import _C

_native = _C.envs
SingleCellPrior = _native.SingleCellPrior
SpotSamplingTask = _native.SpotSamplingTask

__all__ = ["SingleCellPrior", "SpotSamplingTask", "build_prior", "make_task", "synthetic_data", "synthetic_task",
           "load_task"]


def _tensor(x: Any, dtype: torch.dtype | None = None) -> torch.Tensor:
    t = x if isinstance(x, torch.Tensor) else torch.as_tensor(np.asarray(x))
    return t if dtype is None else t.to(dtype)


def build_prior(cell_embeddings, cell_types, *, num_types: int = 0, cluster_labels=None, pca_components: int = 50,
                num_clusters: int = 1000, kmeans_iterations: int = 50, kmeans_max_points: int = 20000,
                seed: int = 0) -> SingleCellPrior:
    """PCA (top ``pca_components``) + seeded k-means (``num_clusters``) of a single-cell reference.

    Pass ``cluster_labels`` ([M] ints) to use a pre-computed clustering instead of k-means."""
    labels = None if cluster_labels is None else _tensor(cluster_labels, torch.long)
    return SingleCellPrior.build(_tensor(cell_embeddings), _tensor(cell_types, torch.long), num_types, labels,
                                 pca_components, num_clusters, kmeans_iterations, kmeans_max_points, seed)


def make_task(features, coords, reward_embedding, prior: SingleCellPrior | None = None, *, section_id=None,
              cell_embeddings=None, cell_types=None, **prior_kwargs) -> SpotSamplingTask:
    """A task from per-spot arrays: observation ``features`` [N, F], ``coords`` [N, 2],
    ``reward_embedding`` [N, D] and either a ``prior`` or the reference (``cell_embeddings`` [M, D],
    ``cell_types`` [M]) to build one from."""
    if prior is None:
        if cell_embeddings is None or cell_types is None:
            raise ValueError("make_task needs a prior or cell_embeddings and cell_types")
        prior = build_prior(cell_embeddings, cell_types, **prior_kwargs)
    sid = None if section_id is None else _tensor(section_id, torch.long)
    return SpotSamplingTask.create(_tensor(features), _tensor(coords), _tensor(reward_embedding), prior, sid)


def synthetic_data(*, num_spots: int = 400, num_sections: int = 1, feature_dim: int = 16, embedding_dim: int = 32,
                   num_types: int = 12, states_per_type: int = 4, num_cells: int = 3000, feature_noise: float = 0.3,
                   seed: int = 0, section_seed: int = 0) -> dict[str, Any]:
    """The seeded synthetic section and single-cell reference (tensors). ``seed`` fixes the world
    (cell types, reference); ``section_seed`` the tissue layout (use another one for held-out sections)."""
    return _native.make_synthetic(num_spots, num_sections, feature_dim, embedding_dim, num_types, states_per_type,
                                  num_cells, feature_noise, seed, section_seed)


_PRIOR_CACHE: dict[tuple, SingleCellPrior] = {}


def synthetic_task(*, num_clusters: int | None = None, **kwargs) -> SpotSamplingTask:
    """A task on the synthetic section (see :func:`synthetic_data`); its prior is built once per world
    and shared. ``num_clusters`` defaults to the number of cell states (types x states)."""
    data = synthetic_data(**kwargs)
    clusters = num_clusters or kwargs.get("num_types", 12) * kwargs.get("states_per_type", 4)
    world = tuple(sorted((k, v) for k, v in kwargs.items() if k not in ("section_seed", "num_spots", "num_sections")))
    key = (world, clusters)
    if key not in _PRIOR_CACHE:
        _PRIOR_CACHE[key] = build_prior(data["cell_embeddings"], data["cell_types"], num_types=data["num_types"],
                                        num_clusters=clusters, seed=kwargs.get("seed", 0))
    return make_task(data["features"], data["coords"], data["reward_embedding"], _PRIOR_CACHE[key],
                     section_id=data["section_id"])


def load_task(data: str | Path | Mapping[str, Any], **prior_kwargs) -> SpotSamplingTask:
    """A task from a mapping or an ``.npz`` file with ``features``, ``coords``, ``reward_embedding``,
    ``cell_embeddings``, ``cell_types`` and optionally ``section_id``, ``cluster_labels``."""
    arrays = dict(np.load(data)) if isinstance(data, (str, Path)) else dict(data)
    missing = {"features", "coords", "reward_embedding", "cell_embeddings", "cell_types"} - arrays.keys()
    if missing:
        raise ValueError(f"data is missing {sorted(missing)}")
    if "cluster_labels" in arrays:
        prior_kwargs.setdefault("cluster_labels", arrays["cluster_labels"])
    return make_task(arrays["features"], arrays["coords"], arrays["reward_embedding"],
                     section_id=arrays.get("section_id"), cell_embeddings=arrays["cell_embeddings"],
                     cell_types=arrays["cell_types"], **prior_kwargs)

"""``SpotDataset``: patches + expression + coordinates + section id per spot, as a
``torch.utils.data.Dataset`` over the C++ ``stx::data::SpotDataset`` (same augmentation, same
seeds). Augmentation applies one of the eight symmetries of the square (90° rotations and flips),
chosen by a hash of (seed, epoch, index) so it is reproducible under any DataLoader worker layout.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch.utils.data import Dataset

from stx import _C

__all__ = ["SpotDataset", "dihedral_transform"]


def dihedral_transform(images: torch.Tensor, k: int) -> torch.Tensor:
    """Symmetry ``k`` in 0..7 on the last two dims: ``rot90`` by ``k % 4`` quarter turns
    counter-clockwise, then for ``k >= 4`` a left-right flip."""
    return _C.slides.dihedral_transform(images, int(k))


class SpotDataset(Dataset):
    """One item per spot: a dict with ``patch`` (uint8 [3, S, S]), ``expression`` ([G]),
    ``coords`` ([2] x, y) and ``section`` (int). Sparse expression rows are densified per item.
    Call :meth:`set_epoch` each epoch to draw new symmetries when ``augment=True``."""

    def __init__(self, patches: torch.Tensor, expression: torch.Tensor, coords: torch.Tensor,
                 section_ids: Optional[torch.Tensor | int] = None, *, augment: bool = False,
                 seed: int = 0) -> None:
        n = patches.shape[0]
        if section_ids is None or isinstance(section_ids, int):
            section_ids = torch.full((n,), int(section_ids or 0), dtype=torch.int64)
        self._core = _C.slides.SpotDataset(patches, expression, torch.as_tensor(coords),
                                           torch.as_tensor(section_ids), augment, seed)

    @classmethod
    def from_sample(cls, sample, slide, target_mpp: float, size: int = 224, *, section_id: int = 0,
                    augment: bool = False, seed: int = 0, **patch_options) -> "SpotDataset":
        """Cuts the patches of a loaded sample (anything with ``counts`` [N, G] and ``coords_px``
        [N, 2]) from ``slide`` and wraps them with the sample's expression. ``patch_options`` go to
        :func:`stx.data.slides.extract_patches` (``num_threads``, ``outside``, ``cache_path``, ...)."""
        from stx.data.slides import extract_patches

        coords = torch.as_tensor(sample.coords_px)
        patches = extract_patches(slide, coords, target_mpp, size, **patch_options)
        return cls(patches, sample.counts, coords, section_id, augment=augment, seed=seed)

    def __len__(self) -> int:
        return len(self._core)

    def __getitem__(self, index: int) -> dict:
        patch, expression, coords, section = self._core.get(int(index))
        return {"patch": patch, "expression": expression, "coords": coords, "section": section}

    def set_epoch(self, epoch: int) -> None:
        self._core.set_epoch(int(epoch))

    def symmetry(self, index: int) -> int:
        """The symmetry (0..7) item ``index`` gets in the current epoch (0 without augmentation)."""
        return self._core.symmetry(int(index))

    @property
    def num_genes(self) -> int:
        return self._core.num_genes

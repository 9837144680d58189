"""Slides, plain images and spot-centred patches (C++ core in ``datasets/``, bound as ``stx._C.slides``).

``SlideReader`` opens whole-slide images through OpenSlide and plain PNG/JPEG/TIFF images through
the image reader, with one interface. Coordinates follow OpenSlide: ``read_region`` takes the
top-left corner in level-0 pixels and a size in pixels of the requested level, and returns
uint8 ``[h, w, 3]`` RGB, transparent pixels composited on white.
"""
from __future__ import annotations

import os
from typing import Optional, Sequence

import torch

from stx import _C

_core = _C.slides

__all__ = ["SlideReader", "extract_patches", "read_image", "read_label_mask", "read_image_planes", "write_png",
           "max_image_pixels", "set_max_image_pixels"]


def max_image_pixels() -> int:
    """The largest image (height x width x pages) the image readers decode; 0 = no limit. Default
    2**29, or ``STX_MAX_IMAGE_PIXELS`` from the environment."""
    return _core.max_image_pixels()


def set_max_image_pixels(pixels: int) -> None:
    """Sets the pixel limit of the image readers (0 = no limit): a file declaring a larger image is
    an error before any pixel memory is allocated."""
    _core.set_max_image_pixels(int(pixels))


def read_image(path: str | os.PathLike) -> torch.Tensor:
    """Decodes a PNG/JPEG/TIFF file to uint8 ``[H, W, C]`` (C = 3, or 4 when it has alpha)."""
    return _core.read_image(os.fspath(path))


def read_label_mask(path: str | os.PathLike) -> torch.Tensor:
    """A segmentation label mask (instance ids, 0 = background) as int64 [H, W] from a single-channel
    TIFF of integer or integer-valued float samples (e.g. CosMx ``CellLabels_F*.tif``); ready for
    ``stx.ops.label_pool``."""
    return _core.read_label_mask(os.fspath(path))


def read_image_planes(path: str | os.PathLike, page: int | None = None,
                      region: tuple[int, int, int, int] | None = None) -> torch.Tensor:
    """The raw samples of a TIFF / OME-TIFF as ``[P, H, W]`` (P = pages x samples per pixel), not
    rescaled: e.g. Xenium's 16-bit DAPI ``morphology_focus.ome.tif``. uint16 widens to int32 and
    uint32/uint64 to int64, other sample types keep theirs; reduced-resolution pages are skipped.
    ``page``: decode only that full-resolution page (one channel or z-plane), ``[samples, H, W]``.
    ``region=(x, y, width, height)`` in pixels: only those pixels (only the strips/tiles that meet them
    are decoded)."""
    return _core.read_image_planes(os.fspath(path), page, None if region is None else tuple(int(v) for v in region))


def write_png(path: str | os.PathLike, image: torch.Tensor) -> None:
    """Writes a uint8 ``[H, W]``, ``[H, W, 3]`` or ``[H, W, 4]`` CPU tensor as an 8-bit PNG."""
    _core.write_png(os.fspath(path), image)


class SlideReader(_core.SlideReader):
    """A whole-slide or plain image. ``mpp`` (µm per level-0 pixel) supplies or overrides the
    resolution; without it, calls that need the resolution fail clearly on slides that lack it."""

    def __init__(self, path: str | os.PathLike, mpp: Optional[float] = None) -> None:
        super().__init__(os.fspath(path), mpp)

    def read_region(self, location: Sequence[int], level: int, size: Sequence[int], *,
                    outside: str = "error", fill: int = 255) -> torch.Tensor:
        """``location`` = (x, y) in level-0 pixels, ``size`` = (w, h) at ``level``. Regions that leave
        the level raise unless ``outside="fill"``, which pads with ``fill``."""
        (x, y), (w, h) = location, size
        return super().read_region(level, int(x), int(y), int(w), int(h), outside, fill)

    def __repr__(self) -> str:
        mpp = f"{self.mpp:.4g}" if self.has_mpp else "unknown"
        return (f"SlideReader({self.path!r}, backend={self.backend}, levels={self.level_dimensions}, "
                f"mpp={mpp})")


def extract_patches(slide: SlideReader, centers_xy, target_mpp: float, size: int = 224, *,
                    num_threads: int = 0, outside: str = "fill", fill: int = 255,
                    snap_tolerance: float = 0.01,
                    cache_path: Optional[str | os.PathLike] = None) -> torch.Tensor:
    """Spot-centred patches: uint8 ``[N, 3, size, size]`` at ``target_mpp`` µm/px.

    ``centers_xy`` is ``[N, 2]`` (x, y) in level-0 pixels (tensor or array-like). The finest
    pyramid level not finer than needed is read and resampled with an antialiased triangle filter;
    within ``snap_tolerance`` of the target the patch is a plain crop. Parts outside the slide are
    filled with ``fill`` (``outside="error"`` raises instead). ``num_threads=0`` uses torch's
    thread count. With ``cache_path`` the patches are kept in an HDF5 file and reused when the
    slide name, centres, resolution and size match.
    """
    centres = torch.as_tensor(centers_xy)
    cache = os.fspath(cache_path) if cache_path is not None else None
    return _core.extract_patches(slide, centres, float(target_mpp), int(size), num_threads, outside, fill,
                                 float(snap_tolerance), cache)

"""Sections for the pipeline, from the C++ training layer (include/stx/train/data.h): every data
kind the readers support (a synthetic study, Visium, HEST-1k, legacy ST), the gene panel and the
log1p targets. Only the report's slide thumbnails are computed here.
"""
from __future__ import annotations

from pathlib import Path

import numpy as np

import stx.data as sdata
from stx._C import train as _train

from .config import PipelineConfig

Section = _train.Section


def load_sections(data: str | None, cfg: PipelineConfig, work_dir: Path) -> tuple[list[Section], dict]:
    """The sections and a description of the data (kind, path, reference)."""
    return _train.load_sections(data or "", cfg.native, str(work_dir))


def pick_sections(sections: list[Section], names: str) -> list[Section]:
    return _train.pick_sections(sections, names)


def choose_genes(train: list[Section], cfg: PipelineConfig) -> tuple[list[str], str]:
    return _train.choose_genes(train, cfg.native)


def pool(sections: list[Section], genes: list[str]) -> dict:
    """patches, targets, coords, section_id, names, genes of the concatenated sections."""
    return _train.make_pool(sections, genes)


def thumbnail(section: Section, max_side: int = 800) -> tuple[np.ndarray, float]:
    """A small RGB view of the section's slide and the factor from full-resolution pixels to its pixels."""
    slide = sdata.SlideReader(section.image_path, mpp=section.mpp / section.image_scale)
    level = slide.level_count - 1
    w, h = slide.level_dimensions[level]
    img = slide.read_region((0, 0), level, (w, h)).numpy()
    step = max(1, int(np.ceil(max(w, h) / max_side)))
    return img[::step, ::step], section.image_scale / (slide.level_downsamples[level] * step)

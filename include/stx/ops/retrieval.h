#pragma once
// Exact top-k retrieval against a bank of embeddings (cosine / inner product / L2), the
// majority cell-type filter and the merge of per-shard top-k lists.
// Schemas, policies (ties, zero vectors, NaN) and examples: docs/ops/retrieval.md.
#include <optional>
#include <tuple>

#include <ATen/Tensor.h>
#include <c10/util/string_view.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.cosine_topk(Tensor query, Tensor bank, SymInt k, str metric="cosine",
//                           Tensor? bank_mask=None, bool exclude_self=False) -> (Tensor scores, Tensor index)
// query [Q, D], bank [N, D] (same floating dtype and device). metric is "cosine", "ip" or "l2";
// for "l2" scores are NEGATIVE squared Euclidean distances, so top-k is always "largest score first".
// bank_mask [N] bool: false rows are never returned. exclude_self: bank row i is never a neighbour
// of query row i (the bank is the training set). Returns scores [Q, k] (query dtype) and index [Q, k]
// int64, sorted by score descending, ties by lower bank index; rows with fewer than k candidates are
// padded with index -1 and score -inf.
STX_API std::tuple<at::Tensor, at::Tensor> cosine_topk(const at::Tensor& query, const at::Tensor& bank,
                                                       int64_t k, c10::string_view metric = "cosine",
                                                       const std::optional<at::Tensor>& bank_mask = std::nullopt,
                                                       bool exclude_self = false);

// torch.ops.stx.majority_filter(Tensor index, Tensor bank_labels, int num_types, int? num_labels=None) -> Tensor
// index [Q, k] int64 (rank order, -1 = padding), bank_labels [N] int64 >= 0 (< num_labels when given).
// keep[q, j] is true when neighbour j is valid and its label is among the num_types most frequent
// labels of row q (count ties broken by best rank); num_types = 0 keeps every valid neighbour.
STX_API at::Tensor majority_filter(const at::Tensor& index, const at::Tensor& bank_labels, int64_t num_types,
                                   std::optional<int64_t> num_labels = std::nullopt);

// torch.ops.stx.filtered_topk(Tensor query, Tensor bank, Tensor bank_labels, SymInt k, int num_types,
//     str metric="cosine", Tensor? bank_mask=None, bool exclude_self=False, int? num_labels=None)
//     -> (Tensor scores, Tensor index, Tensor keep)
// cosine_topk followed by majority_filter: fixed-shape top-k plus the keep-mask of the filter.
STX_API std::tuple<at::Tensor, at::Tensor, at::Tensor> filtered_topk(
    const at::Tensor& query, const at::Tensor& bank, const at::Tensor& bank_labels, int64_t k, int64_t num_types,
    c10::string_view metric = "cosine", const std::optional<at::Tensor>& bank_mask = std::nullopt,
    bool exclude_self = false, std::optional<int64_t> num_labels = std::nullopt);

// torch.ops.stx.merge_topk(Tensor scores, Tensor index, SymInt k) -> (Tensor scores, Tensor index)
// scores/index [P, Q, k_in]: P partial top-k lists (e.g. one per bank shard, with global indices).
// Returns the best k of the P*k_in candidates per query, same order and padding as cosine_topk.
STX_API std::tuple<at::Tensor, at::Tensor> merge_topk(const at::Tensor& scores, const at::Tensor& index, int64_t k);

}  // namespace stx::ops

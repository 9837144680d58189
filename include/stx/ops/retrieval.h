#pragma once
// Exact top-k retrieval against a bank of embeddings (cosine / inner product / L2), the
// majority cell-type filter and the merge of per-shard top-k lists.
// Schemas: see docs/ops/retrieval.md.
#include <optional>
#include <tuple>
#include <vector>

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

}  // namespace stx::ops

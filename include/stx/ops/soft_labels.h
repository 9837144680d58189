#pragma once
// Retrieval-augmented soft labels: the (weighted) mean of the kept neighbours' profiles.
// Schema and policies: docs/ops/soft_labels.md.
#include <optional>
#include <tuple>

#include <ATen/Tensor.h>
#include <c10/util/string_view.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.soft_labels(Tensor index, Tensor scores, Tensor? keep, Tensor bank_values,
//                           str weighting="mean", float temperature=1.0) -> (Tensor soft, Tensor confidence)
// index [Q, k] int64 (-1 = padding), scores [Q, k], keep [Q, k] bool (None = keep all valid),
// bank_values [N, G] (same dtype as scores). A neighbour is used when index >= 0 and keep is true.
// weighting: "mean" (uniform), "similarity" (weights max(score, 0), uniform when they all vanish),
// "softmax" (softmax of score / temperature). soft [Q, G]; rows without a used neighbour are 0.
// confidence [Q] = mean score over ALL valid neighbours (before the filter), 0 without any.
// Differentiable w.r.t. scores and bank_values.
STX_API std::tuple<at::Tensor, at::Tensor> soft_labels(const at::Tensor& index, const at::Tensor& scores,
                                                       const std::optional<at::Tensor>& keep,
                                                       const at::Tensor& bank_values,
                                                       c10::string_view weighting = "mean",
                                                       double temperature = 1.0);

}  // namespace stx::ops

#pragma once
// Nearest-neighbour queries used once at task construction: nearest centroid (Euclidean) and
// nearest reference cell (cosine).
#include <ATen/Tensor.h>

namespace stx::envs::detail {

// Row index in bank [K, P] nearest (Euclidean) to each row of query [Q, P] -> [Q] int64.
at::Tensor nearest_l2(const at::Tensor& query, const at::Tensor& bank);
// Row index in bank [M, D] with the highest cosine similarity to each row of query [Q, D].
at::Tensor nearest_cosine(const at::Tensor& query, const at::Tensor& bank);

}  // namespace stx::envs::detail

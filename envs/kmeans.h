#pragma once
// Seeded k-means (k-means++ seeding, Lloyd iterations) with at:: ops.
#include <cstdint>

#include <ATen/Tensor.h>

namespace stx::envs::detail {

// points [M, P] float -> centroids [k, P] float32. Deterministic for a seed.
at::Tensor kmeans(const at::Tensor& points, int64_t k, int64_t iterations, uint64_t seed);

}  // namespace stx::envs::detail

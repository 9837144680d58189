#pragma once
// Spot labels for SCR2Net's majority filter when no cell-type annotation exists: k-means
// clusters of the first principal components of the log1p expression. Shared by the Python
// pipeline and the native trainer so both filter the same way.
#include <ATen/core/Tensor.h>

#include <cstdint>

#include <stx/macros.h>

namespace stx::modules {

// targets [N, G] floating -> labels [N] int64 in [0, min(num_labels, N)); deterministic for a seed.
STX_API at::Tensor spot_labels(const at::Tensor& targets, int64_t num_labels = 8, int64_t components = 16,
                               uint64_t seed = 0);

}  // namespace stx::modules

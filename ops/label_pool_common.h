#pragma once
// Argument checks shared by the label_pool CPU and CUDA kernels.
#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <cstdint>

namespace stx::ops::detail {

// Returns true for reduce="mean", false for "sum"; anything else is an error.
bool parse_label_reduce(c10::string_view reduce);

// dense [B, G, H, W] float map; labels [B, H, W] int32/int64 on the same device with every value
// in [0, num_labels) or equal to ignore_index (checked on the device; one host sync).
void check_label_pool_inputs(const at::Tensor& dense, const at::Tensor& labels, int64_t num_labels,
                             int64_t ignore_index);

// grad [B, K, G], labels [B, H, W], count [B, K] int64 for _label_pool_backward.
void check_label_pool_backward_inputs(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count);

}  // namespace stx::ops::detail

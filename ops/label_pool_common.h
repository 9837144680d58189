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

// Every label in [0, num_labels) or equal to ignore_index, else an error naming `op`, the bound
// (`bound_name`) and the first bad value (one pass on CPU; ATen ops and one host sync on CUDA).
void check_label_values(const at::Tensor& labels, int64_t num_labels, int64_t ignore_index, const char* op,
                        const char* bound_name);

// grad [B, K, G], labels [B, H, W], count [B, K] int64 for _label_pool_backward (shapes, dtypes,
// devices only).
void check_label_pool_backward_inputs(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count);
// The same plus the label range: every label in [0, K) or equal to ignore_index (a label outside
// would index past grad).
void check_label_pool_backward_inputs(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                      int64_t ignore_index);

}  // namespace stx::ops::detail

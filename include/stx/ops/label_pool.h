#pragma once
// Label pooling: aggregate a dense map [B, G, H, W] inside integer label masks (cell/nucleus
// instance masks, tissue regions). Goes through the c10 dispatcher (CPU/CUDA, autograd).
#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <tuple>

#include <stx/stx.h>

namespace stx::ops {

// dense [B, G, H, W] (float32/float64/bfloat16/float16); labels [B, H, W] int32/int64 with values
// in [0, num_labels) or equal to ignore_index (skipped; default 0 = background);
// reduce "sum" | "mean" (empty label -> 0). Returns (out [B, K, G], count [B, K] int64 pixel
// counts). Differentiable in dense.
STX_API std::tuple<at::Tensor, at::Tensor> label_pool(const at::Tensor& dense, const at::Tensor& labels,
                                                      int64_t num_labels, c10::string_view reduce = "sum",
                                                      int64_t ignore_index = 0);

}  // namespace stx::ops

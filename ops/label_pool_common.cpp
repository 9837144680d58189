// Argument checks of the label_pool ops (device-agnostic, ATen ops on the inputs' device).
#include "ops/label_pool_common.h"

#include <c10/util/Exception.h>

#include <string>

namespace stx::ops::detail {

bool parse_label_reduce(c10::string_view reduce) {
  if (reduce == "sum") return false;
  if (reduce == "mean") return true;
  TORCH_CHECK(false, "stx label_pool: reduce must be \"sum\" or \"mean\", got \"", std::string(reduce), "\"");
}

namespace {

void check_labels_tensor(const at::Tensor& labels, at::IntArrayRef expected_bhw, const at::Tensor& like,
                         const char* like_name) {
  TORCH_CHECK(labels.scalar_type() == at::kInt || labels.scalar_type() == at::kLong,
              "stx label_pool: labels must be int32 or int64, got ", labels.scalar_type());
  TORCH_CHECK(labels.dim() == 3, "stx label_pool: labels must be [B, H, W], got shape ", labels.sizes());
  TORCH_CHECK(labels.sizes() == expected_bhw, "stx label_pool: labels shape ", labels.sizes(),
              " must equal [B, H, W] = ", expected_bhw, " of ", like_name);
  TORCH_CHECK(labels.device() == like.device(), "stx label_pool: labels must be on the same device as ", like_name,
              " (", like.device(), "), got ", labels.device());
}

void check_float_dtype(const at::Tensor& t, const char* name) {
  const auto dt = t.scalar_type();
  TORCH_CHECK(dt == at::kFloat || dt == at::kDouble || dt == at::kBFloat16 || dt == at::kHalf, "stx label_pool: ",
              name, " must be float32, float64, bfloat16 or float16, got ", dt);
}

}  // namespace

void check_label_pool_inputs(const at::Tensor& dense, const at::Tensor& labels, int64_t num_labels,
                             int64_t ignore_index) {
  TORCH_CHECK(dense.dim() == 4, "stx label_pool: dense must be a 4-D [B, G, H, W] map, got shape ", dense.sizes());
  check_float_dtype(dense, "dense");
  TORCH_CHECK(num_labels >= 0, "stx label_pool: num_labels must be >= 0, got ", num_labels);
  check_labels_tensor(labels, {dense.size(0), dense.size(2), dense.size(3)}, dense, "dense");
  if (labels.numel() == 0) return;
  const at::Tensor bad = labels.lt(0).logical_or(labels.ge(num_labels)).logical_and(labels.ne(ignore_index));
  if (bad.any().item<bool>()) {
    const int64_t value = labels.masked_select(bad).flatten()[0].item<int64_t>();
    TORCH_CHECK(false, "stx label_pool: labels must lie in [0, num_labels = ", num_labels,
                ") or equal ignore_index = ", ignore_index, ", found label ", value);
  }
}

void check_label_pool_backward_inputs(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count) {
  TORCH_CHECK(grad.dim() == 3, "stx _label_pool_backward: grad must be [B, K, G], got shape ", grad.sizes());
  check_float_dtype(grad, "grad");
  TORCH_CHECK(labels.dim() == 3 && labels.size(0) == grad.size(0),
              "stx _label_pool_backward: labels must be [B, H, W] with B = ", grad.size(0), ", got shape ",
              labels.sizes());
  check_labels_tensor(labels, labels.sizes(), grad, "grad");
  TORCH_CHECK(count.dim() == 2 && count.size(0) == grad.size(0) && count.size(1) == grad.size(1) &&
                  count.scalar_type() == at::kLong,
              "stx _label_pool_backward: count must be int64 [B, K] = [", grad.size(0), ", ", grad.size(1),
              "], got ", count.scalar_type(), " ", count.sizes());
  TORCH_CHECK(count.device() == grad.device(), "stx _label_pool_backward: count must be on ", grad.device());
}

}  // namespace stx::ops::detail

// Argument checks of the label_pool ops (device-agnostic, ATen ops on the inputs' device).
#include "ops/label_pool_common.h"

#include <c10/util/Exception.h>

#include <cstdint>
#include <string>

namespace stx::ops::detail {

bool parse_label_reduce(c10::string_view reduce) {
  if (reduce == "sum") return false;
  if (reduce == "mean") return true;
  TORCH_CHECK(false, "stx label_pool: reduce must be \"sum\" or \"mean\", got \"", std::string(reduce), "\"");
}

namespace {

// Index of the first label outside [0, K) that is not ignore_index, or -1: one vectorised counting
// pass (no branch per pixel), then a search only when something is wrong.
template <typename I>
int64_t first_bad_label(const I* lab, int64_t n, int64_t K, int64_t ignore) {
  int64_t bad = 0;
  for (int64_t p = 0; p < n; ++p) {
    const int64_t l = lab[p];
    const bool outside = static_cast<uint64_t>(l) >= static_cast<uint64_t>(K);  // l < 0 or l >= K
    bad += static_cast<int64_t>(outside & (l != ignore));
  }
  if (bad == 0) return -1;
  for (int64_t p = 0; p < n; ++p) {
    const int64_t l = lab[p];
    if ((l < 0 || l >= K) && l != ignore) return p;
  }
  return -1;
}

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
  check_label_values(labels, num_labels, ignore_index, "label_pool", "num_labels");
}

void check_label_values(const at::Tensor& labels, int64_t num_labels, int64_t ignore_index, const char* op,
                        const char* bound_name) {
  if (labels.numel() == 0) return;
  int64_t value = 0;
  bool found = false;
  if (labels.is_cpu()) {
    const at::Tensor lab = labels.contiguous();
    const int64_t n = lab.numel();
    const int64_t pos = lab.scalar_type() == at::kInt
                            ? first_bad_label(lab.const_data_ptr<int32_t>(), n, num_labels, ignore_index)
                            : first_bad_label(lab.const_data_ptr<int64_t>(), n, num_labels, ignore_index);
    found = pos >= 0;
    if (found) value = lab.view(-1)[pos].item<int64_t>();
  } else {
    const at::Tensor bad = labels.lt(0).logical_or(labels.ge(num_labels)).logical_and(labels.ne(ignore_index));
    found = bad.any().item<bool>();
    if (found) value = labels.masked_select(bad).flatten()[0].item<int64_t>();
  }
  TORCH_CHECK(!found, "stx ", op, ": labels must lie in [0, ", bound_name, " = ", num_labels,
              ") or equal ignore_index = ", ignore_index, ", found label ", value);
}

void check_label_pool_backward_inputs(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                      int64_t ignore_index) {
  check_label_pool_backward_inputs(grad, labels, count);
  check_label_values(labels, grad.size(1), ignore_index, "_label_pool_backward", "K (grad.size(1))");
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

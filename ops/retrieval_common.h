#pragma once
// Argument validation shared by the CPU and CUDA retrieval kernels (one place, one wording).
#include <cstdint>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>
#include <ATen/ops/aminmax.h>
#include <ATen/ops/min.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

namespace stx::ops::retrieval {

enum class Metric { kCosine, kInnerProduct, kL2 };

// F.normalize's clamp: a row is divided by max(||x||, kNormEps), so a zero row stays zero and has
// cosine 0 with everything.
constexpr double kNormEps = 1e-12;

inline Metric parse_metric(c10::string_view metric) {
  if (metric == "cosine") return Metric::kCosine;
  if (metric == "ip") return Metric::kInnerProduct;
  if (metric == "l2") return Metric::kL2;
  TORCH_CHECK(false, "cosine_topk: metric must be \"cosine\", \"ip\" or \"l2\", got \"", std::string(metric), "\"");
}

inline void check_topk_args(const at::Tensor& query, const at::Tensor& bank, int64_t k,
                            const std::optional<at::Tensor>& bank_mask) {
  TORCH_CHECK(query.dim() == 2, "cosine_topk: query must be 2-D [Q, D], got ", query.dim(), "-D");
  TORCH_CHECK(bank.dim() == 2, "cosine_topk: bank must be 2-D [N, D], got ", bank.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(query.scalar_type()), "cosine_topk: query must be floating point, got ",
              query.scalar_type());
  TORCH_CHECK(bank.scalar_type() == query.scalar_type(), "cosine_topk: bank dtype (", bank.scalar_type(),
              ") must equal query dtype (", query.scalar_type(), ")");
  TORCH_CHECK(bank.device() == query.device(), "cosine_topk: bank is on ", bank.device(), " but query is on ",
              query.device());
  TORCH_CHECK(bank.size(1) == query.size(1), "cosine_topk: bank has D=", bank.size(1), " but query has D=",
              query.size(1));
  TORCH_CHECK(k > 0, "cosine_topk: k must be positive, got ", k);
  if (bank_mask.has_value()) {
    const auto& m = *bank_mask;
    TORCH_CHECK(m.scalar_type() == at::kBool, "cosine_topk: bank_mask must be bool, got ", m.scalar_type());
    TORCH_CHECK(m.dim() == 1 && m.size(0) == bank.size(0), "cosine_topk: bank_mask must have shape [N]=[",
                bank.size(0), "], got ", m.sizes());
    TORCH_CHECK(m.device() == bank.device(), "cosine_topk: bank_mask is on ", m.device(), " but bank is on ",
                bank.device());
  }
}

inline void check_filter_args(const at::Tensor& index, const at::Tensor& bank_labels, int64_t num_types,
                              std::optional<int64_t> num_labels) {
  TORCH_CHECK(index.dim() == 2, "majority_filter: index must be 2-D [Q, k], got ", index.dim(), "-D");
  TORCH_CHECK(index.scalar_type() == at::kLong, "majority_filter: index must be int64, got ", index.scalar_type());
  TORCH_CHECK(bank_labels.dim() == 1, "majority_filter: bank_labels must be 1-D [N], got ", bank_labels.dim(), "-D");
  TORCH_CHECK(bank_labels.scalar_type() == at::kLong, "majority_filter: bank_labels must be int64, got ",
              bank_labels.scalar_type());
  TORCH_CHECK(bank_labels.device() == index.device(), "majority_filter: bank_labels is on ", bank_labels.device(),
              " but index is on ", index.device());
  TORCH_CHECK(num_types >= 0, "majority_filter: num_types must be >= 0, got ", num_types);
  TORCH_CHECK(!num_labels.has_value() || *num_labels > 0, "majority_filter: num_labels must be positive, got ",
              num_labels.value_or(0));
}

// Value-range checks done with ATen reductions so CPU and CUDA share them (one host sync on CUDA).
// Checks lo <= values < hi and returns the largest value (lo - 1 when values is empty).
inline int64_t check_values_in_range(const at::Tensor& values, int64_t lo, int64_t hi, const char* op,
                                     const char* name) {
  if (values.numel() == 0) return lo - 1;
  const auto [min_t, max_t] = at::aminmax(values);
  const int64_t mn = min_t.item<int64_t>();
  const int64_t mx = max_t.item<int64_t>();
  TORCH_CHECK(mn >= lo && mx < hi, op, ": ", name, " values must be in [", lo, ", ", hi, "), got min ", mn,
              " max ", mx);
  return mx;
}

inline void check_merge_args(const at::Tensor& scores, const at::Tensor& index, int64_t k) {
  TORCH_CHECK(scores.dim() == 3, "merge_topk: scores must be 3-D [P, Q, k], got ", scores.dim(), "-D");
  TORCH_CHECK(index.sizes() == scores.sizes(), "merge_topk: index shape ", index.sizes(),
              " must equal scores shape ", scores.sizes());
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()), "merge_topk: scores must be floating point, got ",
              scores.scalar_type());
  TORCH_CHECK(index.scalar_type() == at::kLong, "merge_topk: index must be int64, got ", index.scalar_type());
  TORCH_CHECK(index.device() == scores.device(), "merge_topk: index is on ", index.device(), " but scores is on ",
              scores.device());
  TORCH_CHECK(k > 0, "merge_topk: k must be positive, got ", k);
  // Only -1 marks padding (what cosine_topk writes for a missing neighbour); anything below it is
  // not an index and would otherwise be taken for padding.
  if (index.numel() > 0) {
    const int64_t lowest = index.min().item<int64_t>();
    TORCH_CHECK(lowest >= -1, "merge_topk: index must be >= 0, or -1 for padding; got ", lowest);
  }
}

}  // namespace stx::ops::retrieval

#pragma once
// Soft-label weights of one query row and their backward, shared by the CPU and CUDA kernels
// (host/device functions), plus the argument checks.
#include <cmath>
#include <cstdint>
#include <optional>
#include <string>

#include <ATen/core/Tensor.h>
#include <c10/macros/Macros.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

namespace stx::ops::soft {

enum class Weighting : int { kMean = 0, kSimilarity = 1, kSoftmax = 2 };

inline Weighting parse_weighting(c10::string_view w) {
  if (w == "mean") return Weighting::kMean;
  if (w == "similarity") return Weighting::kSimilarity;
  if (w == "softmax") return Weighting::kSoftmax;
  TORCH_CHECK(false, "soft_labels: weighting must be \"mean\", \"similarity\" or \"softmax\", got \"",
              std::string(w), "\"");
}

inline void check_args(const at::Tensor& index, const at::Tensor& scores, const std::optional<at::Tensor>& keep,
                       const at::Tensor& bank_values, double temperature) {
  TORCH_CHECK(index.dim() == 2, "soft_labels: index must be 2-D [Q, k], got ", index.dim(), "-D");
  TORCH_CHECK(index.scalar_type() == at::kLong, "soft_labels: index must be int64, got ", index.scalar_type());
  TORCH_CHECK(scores.sizes() == index.sizes(), "soft_labels: scores shape ", scores.sizes(),
              " must equal index shape ", index.sizes());
  TORCH_CHECK(at::isFloatingType(scores.scalar_type()), "soft_labels: scores must be floating point, got ",
              scores.scalar_type());
  TORCH_CHECK(bank_values.dim() == 2, "soft_labels: bank_values must be 2-D [N, G], got ", bank_values.dim(), "-D");
  TORCH_CHECK(bank_values.scalar_type() == scores.scalar_type(), "soft_labels: bank_values dtype (",
              bank_values.scalar_type(), ") must equal scores dtype (", scores.scalar_type(), ")");
  TORCH_CHECK(scores.device() == index.device() && bank_values.device() == index.device(),
              "soft_labels: index (", index.device(), "), scores (", scores.device(), ") and bank_values (",
              bank_values.device(), ") must be on one device");
  if (keep.has_value()) {
    TORCH_CHECK(keep->scalar_type() == at::kBool, "soft_labels: keep must be bool, got ", keep->scalar_type());
    TORCH_CHECK(keep->sizes() == index.sizes(), "soft_labels: keep shape ", keep->sizes(),
                " must equal index shape ", index.sizes());
    TORCH_CHECK(keep->device() == index.device(), "soft_labels: keep is on ", keep->device(), " but index is on ",
                index.device());
  }
  TORCH_CHECK(temperature > 0, "soft_labels: temperature must be positive, got ", temperature);
  if (index.numel() > 0) {
    const int64_t mn = index.min().item<int64_t>();
    const int64_t mx = index.max().item<int64_t>();
    TORCH_CHECK(mn >= -1 && mx < bank_values.size(0), "soft_labels: index values must be in [-1, N=",
                bank_values.size(0), "), got min ", mn, " max ", mx);
  }
}

C10_HOST_DEVICE inline float exp_of(float x) { return ::expf(x); }
C10_HOST_DEVICE inline double exp_of(double x) { return ::exp(x); }

template <typename T>
C10_HOST_DEVICE inline T max_of(T a, T b) {
  return a > b ? a : b;
}

// Weights w[k] of one row (0 for unused neighbours) and its confidence. Returns the denominator of
// the "similarity" weights (0 when that row fell back to uniform weights) so backward can reuse it.
template <typename T, typename S>
C10_HOST_DEVICE inline T row_weights(const int64_t* idx, const S* s, const bool* keep, int64_t k, Weighting mode,
                                     T inv_temp, T* w, T* conf) {
  int64_t n_all = 0, n_used = 0;
  T s_all = 0, p_sum = 0, m = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (idx[j] < 0) continue;
    const T sj = static_cast<T>(s[j]);
    ++n_all;
    s_all += sj;
    if (keep != nullptr && !keep[j]) continue;
    m = n_used == 0 ? sj * inv_temp : max_of(m, sj * inv_temp);
    ++n_used;
    p_sum += max_of(sj, T(0));
  }
  *conf = n_all > 0 ? s_all / static_cast<T>(n_all) : T(0);
  const bool uniform = mode == Weighting::kMean || (mode == Weighting::kSimilarity && !(p_sum > 0));
  T total = 0;
  for (int64_t j = 0; j < k; ++j) {
    const bool used = idx[j] >= 0 && (keep == nullptr || keep[j]);
    T v = 0;
    if (used) {
      const T sj = static_cast<T>(s[j]);
      v = uniform ? T(1) : (mode == Weighting::kSimilarity ? max_of(sj, T(0)) : exp_of(sj * inv_temp - m));
    }
    w[j] = v;
    total += v;
  }
  if (total > 0) {
    for (int64_t j = 0; j < k; ++j) w[j] /= total;
  }
  return (mode == Weighting::kSimilarity && !uniform) ? p_sum : T(0);
}

// grad_s[j] from gw[j] = <grad_soft, bank_values[idx[j]]> (uses the weights w of row_weights) and
// the confidence gradient.
template <typename T, typename S>
C10_HOST_DEVICE inline void row_weights_backward(const int64_t* idx, const S* s, const bool* keep, int64_t k,
                                                 Weighting mode, T inv_temp, const T* w, T sim_denom, const T* gw,
                                                 T grad_conf, T* grad_s) {
  int64_t n_all = 0;
  T dot = 0;
  for (int64_t j = 0; j < k; ++j) {
    if (idx[j] < 0) continue;
    ++n_all;
    dot += w[j] * gw[j];
  }
  const T conf_part = n_all > 0 ? grad_conf / static_cast<T>(n_all) : T(0);
  for (int64_t j = 0; j < k; ++j) {
    T g = 0;
    if (idx[j] >= 0) {
      g = conf_part;
      const bool used = keep == nullptr || keep[j];
      if (used && mode == Weighting::kSoftmax) {
        g += w[j] * (gw[j] - dot) * inv_temp;
      } else if (used && mode == Weighting::kSimilarity && sim_denom > 0 && static_cast<T>(s[j]) > 0) {
        g += (gw[j] - dot) / sim_denom;
      }
    }
    grad_s[j] = g;
  }
}

}  // namespace stx::ops::soft

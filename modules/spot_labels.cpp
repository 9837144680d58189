#include <stx/modules/spot_labels.h>

#include <ATen/ATen.h>

#include <algorithm>

#include "envs/kmeans.h"

namespace stx::modules {

at::Tensor spot_labels(const at::Tensor& targets, int64_t num_labels, int64_t components, uint64_t seed) {
  TORCH_CHECK(targets.dim() == 2 && targets.size(0) > 0, "spot_labels: targets must be [N > 0, G], got ",
              targets.sizes());
  TORCH_CHECK(targets.is_floating_point(), "spot_labels: targets must be floating point, got ", targets.scalar_type());
  TORCH_CHECK(num_labels > 0 && components > 0, "spot_labels: num_labels and components must be positive");
  TORCH_CHECK(at::isfinite(targets).all().item<bool>(), "spot_labels: targets contain NaN or Inf");
  auto x = targets.to(at::kDouble).cpu();
  x = x - x.mean(0, /*keepdim=*/true);
  auto svd = at::linalg_svd(x, /*full_matrices=*/false);
  const int64_t p = std::min<int64_t>(components, std::get<2>(svd).size(0));
  auto projected = at::matmul(x, std::get<2>(svd).slice(0, 0, p).t()).to(at::kFloat).contiguous();
  const int64_t k = std::min<int64_t>(num_labels, targets.size(0));
  auto centroids = stx::envs::detail::kmeans(projected, k, 30, seed);
  return at::cdist(projected, centroids).argmin(1).to(at::kLong);
}

}  // namespace stx::modules

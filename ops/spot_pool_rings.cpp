// Rings <-> scales glue for the spot kernels (see spot_pool_common.h). Runs as ATen ops on the
// inputs' device on small [N, S, G] tensors, so the CPU and CUDA kernels share it.
#include "ops/spot_pool_common.h"

#include <ATen/ops/empty_like.h>
#include <ATen/ops/from_blob.h>

namespace stx::ops::detail {

c10::ScalarType spot_acc_dtype(c10::ScalarType dtype) { return dtype == at::kDouble ? at::kDouble : at::kFloat; }

namespace {

// [N, S] tensors of the ring -> scale map and of each ring's scale normalisation.
std::pair<at::Tensor, at::Tensor> ring_tables(const SpotGeometry& g, c10::ScalarType acc, c10::Device device) {
  const int64_t N = g.num_spots, S = g.num_scales;
  std::vector<int64_t> scale(g.ring_scale.begin(), g.ring_scale.end());
  std::vector<double> norm(N * S);
  for (int64_t n = 0; n < N; ++n) {
    for (int64_t k = 0; k < S; ++k) norm[n * S + k] = g.norm[n * S + g.ring_scale[n * S + k]];
  }
  auto cpu_long = at::TensorOptions().dtype(at::kLong);
  auto cpu_double = at::TensorOptions().dtype(at::kDouble);
  at::Tensor scale_t = at::from_blob(scale.data(), {N, S}, cpu_long).to(device, at::kLong, false, /*copy=*/true);
  at::Tensor norm_t = at::from_blob(norm.data(), {N, S}, cpu_double).to(device, acc, false, /*copy=*/true);
  return {scale_t, norm_t};
}

}  // namespace

at::Tensor rings_to_scales(const SpotGeometry& g, const at::Tensor& ring_sums, c10::ScalarType out_dtype) {
  const int64_t N = g.num_spots, S = g.num_scales, G = ring_sums.size(2);
  auto [scale, norm] = ring_tables(g, ring_sums.scalar_type(), ring_sums.device());
  at::Tensor x = (g.nested && S > 1) ? ring_sums.cumsum(1) : ring_sums;
  x = x.mul(norm.unsqueeze(-1));
  if (S > 1) {
    x = at::empty_like(x).scatter_(1, scale.unsqueeze(-1).expand({N, S, G}), x);
  }
  return x.to(out_dtype).contiguous();
}

at::Tensor ring_coefficients(const SpotGeometry& g, const at::Tensor& values) {
  const int64_t N = g.num_spots, S = g.num_scales, G = values.size(2);
  const c10::ScalarType acc = spot_acc_dtype(values.scalar_type());
  auto [scale, norm] = ring_tables(g, acc, values.device());
  at::Tensor v = values.to(acc);
  if (S > 1) v = v.gather(1, scale.unsqueeze(-1).expand({N, S, G}));
  v = v.mul(norm.unsqueeze(-1));
  // A pixel of ring k lies in every scale from ring k outwards.
  if (g.nested && S > 1) v = v.flip(1).cumsum(1).flip(1);
  return v.contiguous();
}

at::Tensor coverage_tensor(const SpotGeometry& g, const at::Tensor& radii, c10::ScalarType dense_dtype,
                           c10::Device device) {
  std::vector<double> cov(g.coverage);
  at::Tensor t = at::from_blob(cov.data(), {static_cast<int64_t>(cov.size())}, at::TensorOptions().dtype(at::kDouble))
                     .to(device, spot_coverage_dtype(dense_dtype), /*non_blocking=*/false, /*copy=*/true);
  return t.view(spot_coverage_shape(radii));
}

}  // namespace stx::ops::detail

#pragma once
// Centring along a dim for the ATen (CUDA) Pearson paths, matching the CPU kernels: a constant
// series is centred on its own value, so its centred values and variance are exactly 0 (centring
// on the rounded mean would leave a tiny variance and r = +-1e-17 instead of NaN).
#include <ATen/ATen.h>

namespace stx::ops::losses {

inline at::Tensor centred(const at::Tensor& x, int64_t d) {
  const at::Tensor first = x.narrow(d, 0, 1);
  const at::Tensor constant = (x == first).all(d, /*keepdim=*/true);
  return x - at::where(constant, first, x.mean(d, /*keepdim=*/true));
}

}  // namespace stx::ops::losses

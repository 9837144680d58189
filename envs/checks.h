#pragma once
// Argument checks shared by the env sources: each names the argument and what was expected.
#include <string>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

namespace stx::envs::detail {

inline void check_matrix(const at::Tensor& t, const char* name, bool floating = true) {
  TORCH_CHECK(t.defined(), name, " is required (got an undefined tensor)");
  TORCH_CHECK(t.dim() == 2, name, " must be 2-D, got shape ", t.sizes());
  if (floating) TORCH_CHECK(at::isFloatingType(t.scalar_type()), name, " must be floating point, got ", t.scalar_type());
}

inline void check_vector(const at::Tensor& t, const char* name, int64_t n) {
  TORCH_CHECK(t.defined(), name, " is required (got an undefined tensor)");
  TORCH_CHECK(t.dim() == 1 && t.size(0) == n, name, " must have shape [", n, "], got ", t.sizes());
}

inline void check_integer(const at::Tensor& t, const char* name) {
  TORCH_CHECK(!at::isFloatingType(t.scalar_type()) && !at::isComplexType(t.scalar_type()) &&
                  t.scalar_type() != at::kBool,
              name, " must have an integer dtype, got ", t.scalar_type());
}

inline void check_finite(const at::Tensor& t, const char* name) {
  TORCH_CHECK(at::isfinite(t).all().item<bool>(), name, " contains NaN or infinite values");
}

}  // namespace stx::envs::detail

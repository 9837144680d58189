#pragma once
// Internal: a 1-D CPU tensor that takes over a std::vector's buffer (no copy), so a reader that
// grows columns as vectors does not hold them twice when it returns tensors.
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace stx::data::detail {

template <typename T>
at::Tensor vector_tensor(std::vector<T>&& values) {
  auto* owned = new std::vector<T>(std::move(values));
  const auto n = static_cast<int64_t>(owned->size());
  return at::from_blob(
      owned->data(), {n}, [owned](void*) { delete owned; },
      at::TensorOptions().dtype(c10::CppTypeToScalarType<T>::value));
}

}  // namespace stx::data::detail

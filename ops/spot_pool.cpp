// spot_pool / spot_splat: operator schemas and the C++ API (calls through the dispatcher, so C++
// callers get autograd and device dispatch). Kernels: ops/cpu, ops/cuda; autograd: ops/autograd.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/spot_pool.h>

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "spot_pool(Tensor dense, Tensor centers, Tensor radii, str shape=\"disk\", str reduce=\"sum\", "
      "float sigma=0.5) -> (Tensor out, Tensor coverage)");
  m.def(
      "spot_splat(Tensor values, Tensor centers, Tensor radii, SymInt batch_size, SymInt height, SymInt width, "
      "str shape=\"disk\", str reduce=\"sum\", float sigma=0.5) -> Tensor");
}

namespace stx::ops {

std::tuple<at::Tensor, at::Tensor> spot_pool(const at::Tensor& dense, const at::Tensor& centers,
                                             const at::Tensor& radii, c10::string_view shape, c10::string_view reduce,
                                             double sigma) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("stx::spot_pool", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                 const at::Tensor&, c10::string_view,
                                                                 c10::string_view, double)>();
  return op.call(dense, centers, radii, shape, reduce, sigma);
}

at::Tensor spot_splat(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii,
                      int64_t batch_size, int64_t height, int64_t width, c10::string_view shape,
                      c10::string_view reduce, double sigma) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("stx::spot_splat", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::SymInt,
                                         c10::SymInt, c10::SymInt, c10::string_view, c10::string_view, double)>();
  return op.call(values, centers, radii, c10::SymInt(batch_size), c10::SymInt(height), c10::SymInt(width), shape,
                 reduce, sigma);
}

}  // namespace stx::ops

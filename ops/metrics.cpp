// Metric family: schemas and the stx::ops C++ wrappers (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/metrics.h>

namespace stx::ops {

at::Tensor pearson_per_gene(const at::Tensor& pred, const at::Tensor& target, int64_t dim) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::pearson_per_gene", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t)>();
  return op.call(pred, target, dim);
}

std::tuple<at::Tensor, at::Tensor> morans_i(const at::Tensor& values, const at::Tensor& coords,
                                            c10::string_view weights, int64_t k, double radius) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::morans_i", "")
                             .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                       c10::string_view, int64_t, double)>();
  return op.call(values, coords, weights, k, radius);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def("pearson_per_gene(Tensor pred, Tensor target, int dim=0) -> Tensor");
  m.def(
      "morans_i(Tensor values, Tensor coords, str weights=\"knn\", int k=6, float radius=0.0) "
      "-> (Tensor I, Tensor z)");
}

// Nucleus-map family (HoVer-Net-style targets and post-processing): schemas and the stx::ops C++
// wrappers (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/nucleus_maps.h>

namespace stx::ops {

at::Tensor hv_maps(const at::Tensor& instances) {
  static const auto op =
      c10::Dispatcher::singleton().findSchemaOrThrow("stx::hv_maps", "").typed<at::Tensor(const at::Tensor&)>();
  return op.call(instances);
}

at::Tensor hv_instances(const at::Tensor& nuclear_prob, const at::Tensor& hv, double threshold, double edge_threshold,
                        int64_t min_size) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("stx::hv_instances", "")
          .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double, double, int64_t)>();
  return op.call(nuclear_prob, hv, threshold, edge_threshold, min_size);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def("hv_maps(Tensor instances) -> Tensor");
  m.def(
      "hv_instances(Tensor nuclear_prob, Tensor hv, float threshold=0.5, float edge_threshold=0.4, "
      "int min_size=10) -> Tensor");
}

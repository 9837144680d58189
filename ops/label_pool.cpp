// label_pool: operator schemas and the C++ API (through the dispatcher). Kernels: ops/cpu,
// ops/cuda; autograd: ops/autograd/label_pool_autograd.cpp.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/label_pool.h>

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "label_pool(Tensor dense, Tensor labels, SymInt num_labels, str reduce=\"sum\", int ignore_index=0) "
      "-> (Tensor out, Tensor count)");
  // grad [B, K, G] -> [B, G, H, W]: the adjoint of label_pool (a gather by label).
  m.def(
      "_label_pool_backward(Tensor grad, Tensor labels, Tensor count, str reduce=\"sum\", int ignore_index=0) "
      "-> Tensor");
}

namespace stx::ops {

std::tuple<at::Tensor, at::Tensor> label_pool(const at::Tensor& dense, const at::Tensor& labels, int64_t num_labels,
                                              c10::string_view reduce, int64_t ignore_index) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("stx::label_pool", "")
                       .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, c10::SymInt,
                                                                 c10::string_view, int64_t)>();
  return op.call(dense, labels, c10::SymInt(num_labels), reduce, ignore_index);
}

}  // namespace stx::ops

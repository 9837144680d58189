// Loss family: schemas and the stx::ops C++ wrappers (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/losses.h>

namespace stx::ops {

at::Tensor soft_label_loss(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                           const at::Tensor& confidence, double weight, double threshold, c10::string_view base,
                           double delta) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::soft_label_loss", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                               const at::Tensor&, double, double, c10::string_view, double)>();
  return op.call(pred, target, soft, confidence, weight, threshold, base, delta);
}

at::Tensor pearson_loss(const at::Tensor& pred, const at::Tensor& target, int64_t dim, double eps) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::pearson_loss", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, double)>();
  return op.call(pred, target, dim, eps);
}

at::Tensor contrastive_loss(const at::Tensor& a, const at::Tensor& b, double temperature) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::contrastive_loss", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  return op.call(a, b, temperature);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "soft_label_loss(Tensor pred, Tensor target, Tensor soft, Tensor confidence, float weight=0.01, "
      "float threshold=0.1, str base=\"mse\", float delta=1.0) -> Tensor");
  // Backward ops: masked-out gradients (output_mask false) come back as empty tensors of shape [0].
  m.def(
      "_soft_label_loss_backward(Tensor grad, Tensor pred, Tensor target, Tensor soft, Tensor confidence, "
      "float weight, float threshold, str base, float delta, bool[3] output_mask) "
      "-> (Tensor grad_pred, Tensor grad_target, Tensor grad_soft)");
  m.def("pearson_loss(Tensor pred, Tensor target, int dim=0, float eps=1e-8) -> Tensor");
  m.def(
      "_pearson_loss_backward(Tensor grad, Tensor pred, Tensor target, int dim, float eps, bool[2] output_mask) "
      "-> (Tensor grad_pred, Tensor grad_target)");
  m.def("contrastive_loss(Tensor a, Tensor b, float temperature=0.5) -> Tensor");
  m.def("_contrastive_loss_backward(Tensor grad, Tensor a, Tensor b, float temperature) -> (Tensor grad_a, Tensor grad_b)");
}

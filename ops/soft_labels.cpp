// Soft-label family: schemas and the stx::ops::soft_labels C++ wrapper (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/soft_labels.h>

namespace stx::ops {

std::tuple<at::Tensor, at::Tensor> soft_labels(const at::Tensor& index, const at::Tensor& scores,
                                               const std::optional<at::Tensor>& keep, const at::Tensor& bank_values,
                                               c10::string_view weighting, double temperature) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("stx::soft_labels", "")
          .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                    const std::optional<at::Tensor>&, const at::Tensor&,
                                                    c10::string_view, double)>();
  return op.call(index, scores, keep, bank_values, weighting, temperature);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "soft_labels(Tensor index, Tensor scores, Tensor? keep, Tensor bank_values, str weighting=\"mean\", "
      "float temperature=1.0) -> (Tensor soft, Tensor confidence)");
  // Masked-out gradients (output_mask false) come back as empty tensors of shape [0].
  m.def(
      "_soft_labels_backward(Tensor grad_soft, Tensor grad_confidence, Tensor index, Tensor scores, Tensor? keep, "
      "Tensor bank_values, str weighting, float temperature, bool[2] output_mask) "
      "-> (Tensor grad_scores, Tensor grad_bank_values)");
}

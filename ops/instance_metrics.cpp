// Instance-metric family (nucleus maps): schemas and the stx::ops C++ wrappers (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/instance_metrics.h>

namespace stx::ops {

at::Tensor instance_metrics(const at::Tensor& true_inst, const at::Tensor& pred_inst, double iou_threshold) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::instance_metrics", "")
                             .typed<at::Tensor(const at::Tensor&, const at::Tensor&, double)>();
  return op.call(true_inst, pred_inst, iou_threshold);
}

std::tuple<at::Tensor, at::Tensor> instance_class_metrics(const at::Tensor& true_inst, const at::Tensor& pred_inst,
                                                          const at::Tensor& true_type, const at::Tensor& pred_type,
                                                          int64_t num_classes, double iou_threshold) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::instance_class_metrics", "")
                             .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                       const at::Tensor&, const at::Tensor&, int64_t,
                                                                       double)>();
  return op.call(true_inst, pred_inst, true_type, pred_type, num_classes, iou_threshold);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def("instance_metrics(Tensor true_inst, Tensor pred_inst, float iou_threshold=0.5) -> Tensor");
  m.def(
      "instance_class_metrics(Tensor true_inst, Tensor pred_inst, Tensor true_type, Tensor pred_type, "
      "int num_classes, float iou_threshold=0.5) -> (Tensor pq, Tensor f1)");
}

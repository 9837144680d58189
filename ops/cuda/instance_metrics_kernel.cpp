// CUDA registrations of the instance-metric family (host code, compiled only in the CUDA build): the
// CPU kernel runs on host copies of the maps (an overlap table is hash-map work, and an evaluation's
// maps are read once) and the results come back on the maps' device.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "stx/ops/instance_metrics.h"

namespace stx::ops::instance {
namespace {

void check_device(const char* op, const char* name, const at::Tensor& map, const at::Tensor& true_inst) {
  TORCH_CHECK(map.device() == true_inst.device(), op, ": ", name, " is on ", map.device(), " but true_inst is on ",
              true_inst.device());
}

at::Tensor instance_metrics_via_host(const at::Tensor& true_inst, const at::Tensor& pred_inst, double iou_threshold) {
  check_device("instance_metrics", "pred_inst", pred_inst, true_inst);
  return instance_metrics(true_inst.cpu(), pred_inst.cpu(), iou_threshold).to(true_inst.device());
}

std::tuple<at::Tensor, at::Tensor> instance_class_metrics_via_host(const at::Tensor& true_inst,
                                                                   const at::Tensor& pred_inst,
                                                                   const at::Tensor& true_type,
                                                                   const at::Tensor& pred_type, int64_t num_classes,
                                                                   double iou_threshold) {
  constexpr const char* op = "instance_class_metrics";
  check_device(op, "pred_inst", pred_inst, true_inst);
  check_device(op, "true_type", true_type, true_inst);
  check_device(op, "pred_type", pred_type, true_inst);
  auto [pq, f1] = instance_class_metrics(true_inst.cpu(), pred_inst.cpu(), true_type.cpu(), pred_type.cpu(),
                                         num_classes, iou_threshold);
  return {pq.to(true_inst.device()), f1.to(true_inst.device())};
}

}  // namespace
}  // namespace stx::ops::instance

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("instance_metrics", &stx::ops::instance::instance_metrics_via_host);
  m.impl("instance_class_metrics", &stx::ops::instance::instance_class_metrics_via_host);
}

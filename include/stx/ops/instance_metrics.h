#pragma once
// Nucleus instance-map metrics, as in the PanNuke / HoVer-Net evaluation: binary Dice, AJI,
// detection / segmentation / panoptic quality (DQ, SQ, PQ = DQ x SQ), per-class PQ and the
// per-class F1 of matched nuclei. Definitions: docs/ops/instance_metrics.md.
//
// Instance maps are 2-D integer tensors (CPU): 0 is background, every positive value one nucleus
// (ids need not be contiguous). Type maps give each pixel a class in [0, num_classes] (0: none); a
// nucleus' class is the most frequent non-zero type over its pixels (ties: the smaller class),
// 0 when it has none. Two nuclei match when their IoU exceeds iou_threshold (>= 0.5, so a nucleus
// has at most one match).
#include <array>
#include <tuple>

#include <ATen/Tensor.h>

#include <stx/stx.h>

namespace stx::ops {

// Columns of instance_metrics' result and of each row of instance_class_metrics' `pq`, `f1`.
inline constexpr std::array<const char*, 8> kInstanceMetricColumns = {"dice", "aji", "dq", "sq",
                                                                      "pq", "tp", "fp", "fn"};
inline constexpr std::array<const char*, 6> kClassPQColumns = {"dq", "sq", "pq", "tp", "fp", "fn"};
inline constexpr std::array<const char*, 4> kClassF1Columns = {"f1", "tp", "fp", "fn"};

// torch.ops.stx.instance_metrics(Tensor true_inst, Tensor pred_inst, float iou_threshold=0.5) -> Tensor
// float64 [8] in kInstanceMetricColumns order. A value with nothing to measure (no nucleus and no
// foreground on either side) is NaN.
STX_API at::Tensor instance_metrics(const at::Tensor& true_inst, const at::Tensor& pred_inst,
                                    double iou_threshold = 0.5);

// torch.ops.stx.instance_class_metrics(Tensor true_inst, Tensor pred_inst, Tensor true_type,
//     Tensor pred_type, int num_classes, float iou_threshold=0.5) -> (Tensor pq, Tensor f1)
// pq: float64 [num_classes, 6] (kClassPQColumns), row c-1 = PQ among the nuclei of class c on both
// sides. f1: float64 [num_classes, 4] (kClassF1Columns), over the nuclei matched class-agnostically:
// tp = matched pairs classed c on both sides, fp = pairs predicted c but true another class,
// fn = pairs true c but predicted another class; f1 = 2tp / (2tp + fp + fn).
STX_API std::tuple<at::Tensor, at::Tensor> instance_class_metrics(const at::Tensor& true_inst,
                                                                  const at::Tensor& pred_inst,
                                                                  const at::Tensor& true_type,
                                                                  const at::Tensor& pred_type, int64_t num_classes,
                                                                  double iou_threshold = 0.5);

}  // namespace stx::ops

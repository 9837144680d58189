// CUDA kernels of the loss family (host code, compiled only in the CUDA build): soft_label_loss and
// pearson_loss written with ATen ops in closed form (elementwise work and reductions that launch
// ATen's CUDA kernels; the fused CPU kernels are in ops/cpu/losses_kernel.cpp), and the CUDA
// registration of the device-generic contrastive_loss (ops/losses_composite.cpp).
#include <array>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/losses_centre.h"
#include "ops/losses_common.h"

namespace stx::ops::losses {
namespace {

at::Tensor soft_label_loss_cuda(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                                const at::Tensor& confidence, double weight, double threshold, c10::string_view base_s,
                                double delta) {
  check_soft_label_loss(pred, target, soft, confidence, weight, delta);
  const at::Tensor d = pred - target;
  const at::Tensor base = parse_base(base_s) == Base::kMse ? d * d : at::huber_loss(pred, target, at::Reduction::None, delta);
  const at::Tensor gate = (confidence > threshold).to(pred.scalar_type()).unsqueeze(1);
  const at::Tensor kd = (pred - soft).square() * gate;
  return (base.sum() + weight * kd.sum()) / static_cast<double>(pred.numel());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> soft_label_loss_backward_cuda(
    const at::Tensor& grad, const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
    const at::Tensor& confidence, double weight, double threshold, c10::string_view base_s, double delta,
    std::array<bool, 3> mask) {
  check_soft_label_loss(pred, target, soft, confidence, weight, delta);
  check_scalar_grad("_soft_label_loss_backward", grad);
  const at::Tensor scale = grad / static_cast<double>(pred.numel());
  const at::Tensor d = pred - target;
  const at::Tensor db = (parse_base(base_s) == Base::kMse ? 2 * d : d.clamp(-delta, delta)) * scale;
  const at::Tensor gate = (confidence > threshold).to(pred.scalar_type()).unsqueeze(1);
  const at::Tensor de = (pred - soft) * gate * (2 * weight) * scale;
  const at::Tensor none = at::empty({0}, pred.options());
  return {mask[0] ? db + de : none, mask[1] ? -db : none, mask[2] ? -de : none};
}

at::Tensor pearson_r_aten(const at::Tensor& x, const at::Tensor& y, int64_t d, double eps, at::Tensor* xc_out,
                          at::Tensor* yc_out) {
  const at::Tensor xc = centred(x, d), yc = centred(y, d);
  const at::Tensor sx = xc.square().sum(d).sqrt(), sy = yc.square().sum(d).sqrt();
  if (xc_out) *xc_out = xc;
  if (yc_out) *yc_out = yc;
  return (xc * yc).sum(d) / (sx * sy + eps);
}

at::Tensor pearson_loss_cuda(const at::Tensor& pred, const at::Tensor& target, int64_t dim, double eps) {
  const int64_t d = check_pearson("pearson_loss", pred, target, dim);
  return 1 - pearson_r_aten(pred, target, d, eps, nullptr, nullptr).mean();
}

std::tuple<at::Tensor, at::Tensor> pearson_loss_backward_cuda(const at::Tensor& grad, const at::Tensor& pred,
                                                              const at::Tensor& target, int64_t dim, double eps,
                                                              std::array<bool, 2> mask) {
  const int64_t d = check_pearson("pearson_loss", pred, target, dim);
  check_scalar_grad("_pearson_loss_backward", grad);
  at::Tensor xc, yc;
  pearson_r_aten(pred, target, d, eps, &xc, &yc);
  const at::Tensor sxy = (xc * yc).sum(d, true);
  const at::Tensor sx = xc.square().sum(d, true).sqrt(), sy = yc.square().sum(d, true).sqrt();
  const at::Tensor den = sx * sy + eps;
  const at::Tensor f = -grad / static_cast<double>(pred.size(1 - d));
  const at::Tensor zero = at::zeros({}, pred.options());
  const at::Tensor cxx = at::where(sx > 0, -sxy * sy / (den * den * sx), zero);
  const at::Tensor cyy = at::where(sy > 0, -sxy * sx / (den * den * sy), zero);
  const at::Tensor none = at::empty({0}, pred.options());
  return {mask[0] ? f * (yc / den + cxx * xc) : none, mask[1] ? f * (xc / den + cyy * yc) : none};
}

}  // namespace
}  // namespace stx::ops::losses

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("contrastive_loss", &stx::ops::losses::contrastive_loss_aten);
  m.impl("_contrastive_loss_backward", &stx::ops::losses::contrastive_loss_backward_aten);
  m.impl("soft_label_loss", &stx::ops::losses::soft_label_loss_cuda);
  m.impl("_soft_label_loss_backward", &stx::ops::losses::soft_label_loss_backward_cuda);
  m.impl("pearson_loss", &stx::ops::losses::pearson_loss_cuda);
  m.impl("_pearson_loss_backward", &stx::ops::losses::pearson_loss_backward_cuda);
}

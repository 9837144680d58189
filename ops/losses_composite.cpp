// contrastive_loss written with ATen ops in closed form (no autograd graph): one device-generic
// kernel (a [B, B] problem that ATen's GEMM/softmax already serve well), registered here for the
// CPU and in ops/cuda/losses_kernel.cpp for CUDA.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/losses_centre.h"
#include "ops/losses_common.h"

namespace stx::ops::losses {
namespace {

constexpr double kNormEps = 1e-12;  // as torch.nn.functional.normalize

at::Tensor normalize_rows(const at::Tensor& x) {
  return x / at::linalg_vector_norm(x, 2, {1}, true).clamp_min(kNormEps);
}

// Gradient of x / max(||x||, eps) given the gradient g of the normalised rows xn.
at::Tensor normalize_backward(const at::Tensor& x, const at::Tensor& xn, const at::Tensor& g) {
  const at::Tensor norm = at::linalg_vector_norm(x, 2, {1}, true);
  const at::Tensor projected = (g - xn * (xn * g).sum(1, true)) / norm.clamp_min(kNormEps);
  return at::where(norm > kNormEps, projected, g / kNormEps);
}

}  // namespace

at::Tensor contrastive_loss_aten(const at::Tensor& a, const at::Tensor& b, double temperature) {
  check_contrastive(a, b, temperature);
  const at::Tensor logits = at::mm(normalize_rows(a), normalize_rows(b).t()) / temperature;
  const at::Tensor diag = logits.diagonal();
  return 0.5 * ((at::logsumexp(logits, {1}) - diag).mean() + (at::logsumexp(logits, {0}) - diag).mean());
}

std::tuple<at::Tensor, at::Tensor> contrastive_loss_backward_aten(const at::Tensor& grad, const at::Tensor& a,
                                                                  const at::Tensor& b, double temperature) {
  check_contrastive(a, b, temperature);
  const int64_t B = a.size(0);
  const at::Tensor an = normalize_rows(a), bn = normalize_rows(b);
  const at::Tensor logits = at::mm(an, bn.t()) / temperature;
  // d loss / d logits = (softmax_rows + softmax_cols) / (2B) - I / B
  at::Tensor dl = (at::softmax(logits, 1) + at::softmax(logits, 0)) / (2.0 * static_cast<double>(B));
  dl.diagonal().sub_(1.0 / static_cast<double>(B));
  dl.mul_(grad / temperature);
  return {normalize_backward(a, an, at::mm(dl, bn)), normalize_backward(b, bn, at::mm(dl.t(), an))};
}

}  // namespace stx::ops::losses

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("contrastive_loss", &stx::ops::losses::contrastive_loss_aten);
  m.impl("_contrastive_loss_backward", &stx::ops::losses::contrastive_loss_backward_aten);
}

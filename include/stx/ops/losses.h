#pragma once
// Fused losses for retrieval-augmented ST regression (forward + backward kernels, C++ autograd).
// Schemas and the exact definitions: docs/ops/losses.md.
#include <ATen/Tensor.h>
#include <c10/util/string_view.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.soft_label_loss(Tensor pred, Tensor target, Tensor soft, Tensor confidence,
//     float weight=0.01, float threshold=0.1, str base="mse", float delta=1.0) -> Tensor
// pred/target/soft [B, G], confidence [B]. With d = pred - target and m_b = [confidence_b > threshold]:
//   loss = (sum_bg base(d_bg) + weight * sum_b m_b sum_g (pred_bg - soft_bg)^2) / (B * G)
// base "mse": d^2; "huber": 0.5 d^2 if |d| < delta else delta (|d| - 0.5 delta). The gate is per
// sample (the SCR2Net reference multiplies a batch-mean MSE by the batch fraction of gated samples).
// Differentiable w.r.t. pred, target and soft.
STX_API at::Tensor soft_label_loss(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                                   const at::Tensor& confidence, double weight = 0.01, double threshold = 0.1,
                                   c10::string_view base = "mse", double delta = 1.0);

// torch.ops.stx.pearson_loss(Tensor pred, Tensor target, int dim=0, float eps=1e-8) -> Tensor
// pred/target 2-D; 1 - mean over the other dimension of r = sxy / (sqrt(sxx) sqrt(syy) + eps),
// with centred (two-pass) sums along dim. Differentiable w.r.t. pred and target.
STX_API at::Tensor pearson_loss(const at::Tensor& pred, const at::Tensor& target, int64_t dim = 0,
                                double eps = 1e-8);

// torch.ops.stx.contrastive_loss(Tensor a, Tensor b, float temperature=0.5) -> Tensor
// CLIP loss of L2-normalised a, b [B, D]: logits = a_n b_n^T / temperature,
// loss = (CE(logits, arange B) + CE(logits^T, arange B)) / 2. Differentiable w.r.t. a and b.
STX_API at::Tensor contrastive_loss(const at::Tensor& a, const at::Tensor& b, double temperature = 0.5);

}  // namespace stx::ops

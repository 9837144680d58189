#pragma once
// Small heads shared by the predictors.
#include <torch/nn/module.h>
#include <torch/nn/modules/dropout.h>
#include <torch/nn/modules/linear.h>
#include <torch/nn/modules/normalization.h>
#include <torch/nn/pimpl.h>

#include <stx/macros.h>

namespace stx::modules {

// SCR2Net's projection head: z = W1 x; out = LayerNorm(z + Dropout(W2 GELU(z))).
class STX_API ProjectionHeadImpl : public torch::nn::Module {
 public:
  ProjectionHeadImpl(int64_t in_dim, int64_t out_dim, double dropout = 0.1);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear project_{nullptr}, fc_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
  torch::nn::LayerNorm norm_{nullptr};
};
TORCH_MODULE(ProjectionHead);

// Dropout -> Linear(in, hidden) -> ReLU -> Dropout -> Linear(hidden, out): the regression head.
class STX_API MLPHeadImpl : public torch::nn::Module {
 public:
  MLPHeadImpl(int64_t in_dim, int64_t hidden_dim, int64_t out_dim, double dropout = 0.0);
  torch::Tensor forward(const torch::Tensor& x);

 private:
  torch::nn::Linear fc1_{nullptr}, fc2_{nullptr};
  torch::nn::Dropout dropout_{nullptr};
};
TORCH_MODULE(MLPHead);

}  // namespace stx::modules

#include <stx/modules/heads.h>

#include <torch/nn/functional/activation.h>

namespace stx::modules {

ProjectionHeadImpl::ProjectionHeadImpl(int64_t in_dim, int64_t out_dim, double dropout) {
  TORCH_CHECK(in_dim > 0 && out_dim > 0, "ProjectionHead: in_dim and out_dim must be positive");
  project_ = register_module("project", torch::nn::Linear(in_dim, out_dim));
  fc_ = register_module("fc", torch::nn::Linear(out_dim, out_dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
  norm_ = register_module("norm", torch::nn::LayerNorm(torch::nn::LayerNormOptions({out_dim})));
}

torch::Tensor ProjectionHeadImpl::forward(const torch::Tensor& x) {
  auto z = project_->forward(x);
  return norm_->forward(z + dropout_->forward(fc_->forward(torch::gelu(z))));
}

MLPHeadImpl::MLPHeadImpl(int64_t in_dim, int64_t hidden_dim, int64_t out_dim, double dropout) {
  TORCH_CHECK(in_dim > 0 && hidden_dim > 0 && out_dim > 0, "MLPHead: dimensions must be positive");
  fc1_ = register_module("fc1", torch::nn::Linear(in_dim, hidden_dim));
  fc2_ = register_module("fc2", torch::nn::Linear(hidden_dim, out_dim));
  dropout_ = register_module("dropout", torch::nn::Dropout(dropout));
}

torch::Tensor MLPHeadImpl::forward(const torch::Tensor& x) {
  auto h = torch::relu(fc1_->forward(dropout_->forward(x)));
  return fc2_->forward(dropout_->forward(h));
}

}  // namespace stx::modules

#pragma once
// SCR2Net (SCR2-ST's predictor): image backbone -> regression head over G genes, plus image and
// gene projection heads into a shared space used to retrieve sequenced spots as soft labels.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include <string>
#include <tuple>

#include <stx/macros.h>
#include <stx/modules/heads.h>

namespace stx::modules {

struct SCR2NetOptions {
  int64_t num_genes = 0;
  std::string backbone = "small_cnn";  // or a TorchScript file path
  int64_t small_cnn_width = 32;
  int64_t hidden_dim = 256;            // regression MLP width (the reference uses 1024)
  int64_t projection_dim = 128;        // shared retrieval space (the reference uses 256)
  double dropout = 0.1;
};

class STX_API SCR2NetImpl : public torch::nn::Module {
 public:
  explicit SCR2NetImpl(const SCR2NetOptions& options);
  // images [B, 3, H, W] -> (image features [B, F], predicted log1p expression [B, G]).
  std::tuple<torch::Tensor, torch::Tensor> forward(const torch::Tensor& images);
  // L2-normalised projections into the retrieval space.
  torch::Tensor image_embedding(const torch::Tensor& features);
  torch::Tensor gene_embedding(const torch::Tensor& log_expression);
  const SCR2NetOptions& options() const { return options_; }
  int64_t feature_dim() const { return feature_dim_; }

 private:
  SCR2NetOptions options_;
  int64_t feature_dim_ = 0;
  torch::nn::AnyModule backbone_;
  MLPHead regressor_{nullptr};
  ProjectionHead image_head_{nullptr}, gene_head_{nullptr};
};
TORCH_MODULE(SCR2Net);

}  // namespace stx::modules

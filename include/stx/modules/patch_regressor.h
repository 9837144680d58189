#pragma once
// The single-patch baseline: backbone -> MLP head (dropout 0.5) over G genes.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include <string>

#include <stx/macros.h>
#include <stx/modules/heads.h>

namespace stx::modules {

struct PatchRegressorOptions {
  int64_t num_genes = 0;
  std::string backbone = "small_cnn";
  int64_t small_cnn_width = 32;
  int64_t hidden_dim = 512;
  double dropout = 0.5;
};

class STX_API PatchRegressorImpl : public torch::nn::Module {
 public:
  explicit PatchRegressorImpl(const PatchRegressorOptions& options);
  torch::Tensor forward(const torch::Tensor& images);  // [B,3,H,W] -> [B,G]

 private:
  torch::nn::AnyModule backbone_;
  MLPHead head_{nullptr};
};
TORCH_MODULE(PatchRegressor);

}  // namespace stx::modules

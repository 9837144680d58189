#pragma once
// The single-patch baseline: backbone -> MLP head (Dropout -> Linear(hidden) -> ReLU -> Dropout ->
// Linear(G), dropout 0.5) over G genes.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/pimpl.h>

#include <string>

#include <stx/macros.h>
#include <stx/modules/heads.h>

namespace stx::modules {

struct PatchRegressorOptions {
  int64_t num_genes = 0;
  std::string backbone = "small_cnn";  // see make_backbone (stx/modules/backbones.h)
  int64_t small_cnn_width = 32;
  int64_t hidden_dim = 512;
  double dropout = 0.5;
  std::string backbone_weights;  // a state_dict file for a native backbone, "" for random init
};

class STX_API PatchRegressorImpl : public torch::nn::Module {
 public:
  explicit PatchRegressorImpl(const PatchRegressorOptions& options);
  torch::Tensor forward(const torch::Tensor& images);  // [B,3,H,W] -> [B,G]
  // Parameter counts, reported separately by the baseline study.
  int64_t backbone_parameters() const;
  int64_t head_parameters() const;

 private:
  torch::nn::AnyModule backbone_;
  std::shared_ptr<torch::nn::Module> backbone_base_;
  MLPHead head_{nullptr};
};
TORCH_MODULE(PatchRegressor);

}  // namespace stx::modules

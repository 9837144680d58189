#pragma once
// PixNet-style dense prediction: a feature pyramid -> top-down upsampling decoder -> a per-pixel
// expression map [B, G, H, W], trained by pooling the map inside spots (stx::ops::spot_pool), so
// it can be read out at any spot size or scale.
#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>

#include <vector>

#include <stx/macros.h>
#include <stx/modules/backbones.h>

namespace stx::modules {

struct DenseExpressionHeadOptions {
  std::vector<int64_t> in_channels;  // pyramid channels, finest level first
  int64_t decoder_channels = 64;
  int64_t num_genes = 0;
  bool nonnegative = false;          // softplus output (for raw-count maps pooled with "sum")
};

class STX_API DenseExpressionHeadImpl : public torch::nn::Module {
 public:
  explicit DenseExpressionHeadImpl(const DenseExpressionHeadOptions& options);
  // pyramid (finest first) -> map at `out_size` (H, W) resolution.
  torch::Tensor forward(const std::vector<torch::Tensor>& pyramid, torch::IntArrayRef out_size);

 private:
  DenseExpressionHeadOptions options_;
  std::vector<torch::nn::Conv2d> lateral_;
  std::vector<torch::nn::Sequential> smooth_;
  torch::nn::Conv2d out_{nullptr};
};
TORCH_MODULE(DenseExpressionHead);

// SmallCNN encoder + DenseExpressionHead: images [B,3,H,W] -> maps [B,G,H,W].
class STX_API DenseExpressionNetImpl : public torch::nn::Module {
 public:
  DenseExpressionNetImpl(int64_t num_genes, int64_t width = 32, int64_t decoder_channels = 64, bool nonnegative = false);
  torch::Tensor forward(const torch::Tensor& images);

 private:
  SmallCNN encoder_{nullptr};
  DenseExpressionHead head_{nullptr};
};
TORCH_MODULE(DenseExpressionNet);

}  // namespace stx::modules

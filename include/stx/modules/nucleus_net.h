#pragma once
// A HoVer-Net-style nucleus segmentation and classification network: one encoder (SmallCNN pyramid)
// and three decoder branches (DenseExpressionHead) predicting, per pixel, nuclear vs background
// logits, the horizontal/vertical distance maps (stx::ops::hv_maps targets) and type logits.
// stx::ops::hv_instances turns the first two into nuclei; the type of a nucleus is the majority of
// its pixels' predicted types.
#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <tuple>

#include <stx/macros.h>
#include <stx/modules/backbones.h>
#include <stx/modules/dense_head.h>

namespace stx::modules {

struct NucleusNetOptions {
  int64_t num_types = 1;         // nucleus classes, not counting the background (type 0)
  int64_t width = 16;            // SmallCNN width
  int64_t stages = 3;            // SmallCNN stages
  int64_t decoder_channels = 32;
};

class STX_API NucleusNetImpl : public torch::nn::Module {
 public:
  explicit NucleusNetImpl(const NucleusNetOptions& options = {});
  // images [B, 3, H, W] -> (nuclear logits [B, 2, H, W], hv [B, 2, H, W], type logits [B, T + 1, H, W]).
  std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> forward(const torch::Tensor& images);
  const NucleusNetOptions& options() const { return options_; }

 private:
  NucleusNetOptions options_;
  SmallCNN encoder_{nullptr};
  DenseExpressionHead nuclear_{nullptr}, distance_{nullptr}, type_{nullptr};
};
TORCH_MODULE(NucleusNet);

struct NucleusLossWeights {
  double nuclear_ce = 1.0, nuclear_dice = 1.0, hv_mse = 1.0, hv_msge = 2.0, type_ce = 1.0, type_dice = 1.0;
};

// HoVer-Net's objective. instances [B, H, W] int64 (0 background); hv_target [B, 2, H, W] (hv_maps
// of each instance map); types [B, H, W] int64 in [0, T] or -1 where a nucleus' type is unknown
// (ignored by the type terms only). Terms: cross-entropy + soft Dice of the nuclear map; MSE of the
// distance maps over every pixel + the mean squared error of their Sobel derivatives (h along x, v
// along y) over nuclear pixels; cross-entropy + soft Dice of the types over the pixels not ignored.
// Returns the weighted sum.
STX_API torch::Tensor nucleus_loss(const torch::Tensor& nuclear_logits, const torch::Tensor& hv,
                                   const torch::Tensor& type_logits, const torch::Tensor& instances,
                                   const torch::Tensor& hv_target, const torch::Tensor& types,
                                   const NucleusLossWeights& weights = {});

}  // namespace stx::modules

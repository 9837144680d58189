// EfficientNet-B0: MBConv blocks with squeeze-and-excitation, SiLU, and stochastic depth that grows
// linearly from 0 to 0.2 over the blocks (applied only while training, as in torchvision).
#include <ATen/ATen.h>

#include "modules/conv_blocks.h"
#include <stx/modules/torchvision_nets.h>

namespace stx::modules {
namespace {

using detail::Act;
using detail::conv_norm_act;

// Channel gates from the pooled map: fc1 (1x1 conv) -> SiLU -> fc2 -> sigmoid.
class SqueezeExcitationImpl : public torch::nn::Module {
 public:
  SqueezeExcitationImpl(int64_t channels, int64_t squeezed) {
    fc1_ = register_module("fc1", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, squeezed, 1)));
    fc2_ = register_module("fc2", torch::nn::Conv2d(torch::nn::Conv2dOptions(squeezed, channels, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto gate = fc2_->forward(torch::silu(fc1_->forward(x.mean({2, 3}, /*keepdim=*/true))));
    return x * torch::sigmoid(gate);
  }

 private:
  torch::nn::Conv2d fc1_{nullptr}, fc2_{nullptr};
};
TORCH_MODULE(SqueezeExcitation);

class MBConvImpl : public torch::nn::Module {
 public:
  MBConvImpl(int64_t in, int64_t out, int64_t kernel, int64_t stride, int64_t expand, double drop)
      : residual_(stride == 1 && in == out), drop_(drop) {
    const int64_t hidden = detail::make_divisible(static_cast<double>(in * expand));
    detail::Stack block;
    if (hidden != in) block->push_back(conv_norm_act(in, hidden, 1, 1, Act::kSiLU));
    block->push_back(conv_norm_act(hidden, hidden, kernel, stride, Act::kSiLU, hidden));
    block->push_back(SqueezeExcitation(hidden, std::max<int64_t>(1, in / 4)));
    block->push_back(conv_norm_act(hidden, out, 1, 1, Act::kNone));
    block_ = register_module("block", block);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = block_->forward(x);
    if (!residual_) return y;
    if (is_training() && drop_ > 0) {  // drop the whole residual branch per sample, rescale survivors
      auto keep = at::empty({y.size(0), 1, 1, 1}, y.options()).bernoulli_(1.0 - drop_);
      y = y * keep / (1.0 - drop_);
    }
    return x + y;
  }

 private:
  bool residual_;
  double drop_;
  detail::Stack block_{nullptr};
};
TORCH_MODULE(MBConv);

class EfficientNetB0Impl : public TorchvisionNetImpl {
 public:
  EfficientNetB0Impl() : TorchvisionNetImpl("efficientnet_b0", 1280, "classifier.") {
    struct Stage { int64_t expand, kernel, stride, in, out, repeats; };
    const std::vector<Stage> stages{{1, 3, 1, 32, 16, 1},   {6, 3, 2, 16, 24, 2},  {6, 5, 2, 24, 40, 2},
                                    {6, 3, 2, 40, 80, 3},   {6, 5, 1, 80, 112, 3}, {6, 5, 2, 112, 192, 4},
                                    {6, 3, 1, 192, 320, 1}};
    int64_t total = 0;
    for (const auto& s : stages) total += s.repeats;
    detail::Stack features;
    features->push_back(conv_norm_act(3, 32, 3, 2, Act::kSiLU));
    int64_t index = 0;
    for (const auto& s : stages) {
      detail::Stack stage;
      for (int64_t r = 0; r < s.repeats; ++r, ++index) {
        const double drop = 0.2 * static_cast<double>(index) / static_cast<double>(total);
        stage->push_back(MBConv(r == 0 ? s.in : s.out, s.out, s.kernel, r == 0 ? s.stride : 1, s.expand, drop));
      }
      features->push_back(stage);
    }
    features->push_back(conv_norm_act(320, out_dim(), 1, 1, Act::kSiLU));
    features_ = register_module("features", features);
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    return detail::global_mean(features_->forward(images));
  }

 private:
  detail::Stack features_{nullptr};
};

}  // namespace

std::shared_ptr<TorchvisionNetImpl> make_efficientnet_b0() { return std::make_shared<EfficientNetB0Impl>(); }

}  // namespace stx::modules

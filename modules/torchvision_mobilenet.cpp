// MobileNetV2 (width 1.0): inverted residual blocks with ReLU6 and linear bottlenecks.
#include "modules/conv_blocks.h"
#include <stx/modules/torchvision_nets.h>

namespace stx::modules {
namespace {

using detail::Act;
using detail::conv_norm_act;

// [expand 1x1] -> depthwise 3x3 -> project 1x1 (no activation); residual when shapes allow.
class InvertedResidualImpl : public torch::nn::Module {
 public:
  InvertedResidualImpl(int64_t in, int64_t out, int64_t stride, int64_t expand)
      : residual_(stride == 1 && in == out) {
    const int64_t hidden = in * expand;
    detail::Stack body;
    if (expand != 1) body->push_back(conv_norm_act(in, hidden, 1, 1, Act::kReLU6));
    body->push_back(conv_norm_act(hidden, hidden, 3, stride, Act::kReLU6, hidden));
    body->push_back(detail::conv(hidden, out, 1));
    body->push_back(torch::nn::BatchNorm2d(out));
    conv_ = register_module("conv", body);
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto y = conv_->forward(x);
    return residual_ ? x + y : y;
  }

 private:
  bool residual_;
  detail::Stack conv_{nullptr};
};
TORCH_MODULE(InvertedResidual);

class MobileNetV2Impl : public TorchvisionNetImpl {
 public:
  MobileNetV2Impl() : TorchvisionNetImpl("mobilenet_v2", 1280, "classifier.") {
    struct Stage { int64_t expand, channels, repeats, stride; };
    const std::vector<Stage> stages{{1, 16, 1, 1},  {6, 24, 2, 2},  {6, 32, 3, 2}, {6, 64, 4, 2},
                                    {6, 96, 3, 1},  {6, 160, 3, 2}, {6, 320, 1, 1}};
    detail::Stack features;
    int64_t in = 32;
    features->push_back(conv_norm_act(3, in, 3, 2, Act::kReLU6));
    for (const auto& s : stages) {
      for (int64_t r = 0; r < s.repeats; ++r) {
        features->push_back(InvertedResidual(in, s.channels, r == 0 ? s.stride : 1, s.expand));
        in = s.channels;
      }
    }
    features->push_back(conv_norm_act(in, out_dim(), 1, 1, Act::kReLU6));
    features_ = register_module("features", features);
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    return detail::global_mean(features_->forward(images));
  }

 private:
  detail::Stack features_{nullptr};
};

}  // namespace

std::shared_ptr<TorchvisionNetImpl> make_mobilenet_v2() { return std::make_shared<MobileNetV2Impl>(); }

}  // namespace stx::modules

#pragma once
// Building blocks shared by the native torchvision networks (internal to modules/).
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>

#include <algorithm>

namespace stx::modules::detail {

// nn::Sequential with a concrete forward, so it can sit inside another Sequential as torchvision's do
// (nn::Sequential's own forward is a template, which AnyModule cannot hold).
class StackImpl : public torch::nn::SequentialImpl {
 public:
  using torch::nn::SequentialImpl::SequentialImpl;
  torch::Tensor forward(const torch::Tensor& x) { return torch::nn::SequentialImpl::forward(x); }
};
TORCH_MODULE(Stack);

enum class Act { kNone, kReLU, kReLU6, kSiLU };

// Bias-free conv with torchvision's "same" padding (k - 1) / 2.
inline torch::nn::Conv2d conv(int64_t in, int64_t out, int64_t kernel, int64_t stride = 1, int64_t groups = 1) {
  return torch::nn::Conv2d(
      torch::nn::Conv2dOptions(in, out, kernel).stride(stride).padding((kernel - 1) / 2).groups(groups).bias(false));
}

// torchvision's Conv2dNormActivation: children 0 (conv), 1 (BatchNorm), 2 (activation, no parameters).
inline Stack conv_norm_act(int64_t in, int64_t out, int64_t kernel, int64_t stride, Act act,
                                           int64_t groups = 1) {
  Stack seq(conv(in, out, kernel, stride, groups), torch::nn::BatchNorm2d(out));
  if (act == Act::kReLU) seq->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
  if (act == Act::kReLU6) seq->push_back(torch::nn::ReLU6(torch::nn::ReLU6Options(true)));
  if (act == Act::kSiLU) seq->push_back(torch::nn::SiLU());
  return seq;
}

// Channels rounded to a multiple of 8, never more than 10% below the unrounded value (MobileNet rule).
inline int64_t make_divisible(double channels, int64_t divisor = 8) {
  int64_t rounded = std::max<int64_t>(divisor, (static_cast<int64_t>(channels + divisor / 2.0) / divisor) * divisor);
  if (static_cast<double>(rounded) < 0.9 * channels) rounded += divisor;
  return rounded;
}

inline torch::Tensor global_mean(const torch::Tensor& x) { return x.mean({2, 3}); }

}  // namespace stx::modules::detail

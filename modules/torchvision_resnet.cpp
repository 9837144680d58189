// ResNet-18/50 (torchvision's v1.5 layout: the stride of a bottleneck sits on its 3x3 conv).
#include <torch/nn/functional/pooling.h>

#include "modules/conv_blocks.h"
#include <stx/modules/torchvision_nets.h>

namespace stx::modules {
namespace {

using detail::conv;

// BasicBlock (two 3x3 convs) or Bottleneck (1x1 -> 3x3 -> 1x1 x4) with an optional projection shortcut.
class ResidualBlockImpl : public torch::nn::Module {
 public:
  ResidualBlockImpl(int64_t in, int64_t planes, int64_t stride, bool bottleneck) {
    const int64_t out = bottleneck ? planes * 4 : planes;
    if (bottleneck) {
      add("conv1", conv(in, planes, 1), planes);
      add("conv2", conv(planes, planes, 3, stride), planes);
      add("conv3", conv(planes, out, 1), out);
    } else {
      add("conv1", conv(in, planes, 3, stride), planes);
      add("conv2", conv(planes, planes, 3), planes);
    }
    if (stride != 1 || in != out) {
      downsample_ = register_module("downsample", torch::nn::Sequential(conv(in, out, 1, stride), torch::nn::BatchNorm2d(out)));
    }
  }

  torch::Tensor forward(const torch::Tensor& x) {
    torch::Tensor y = x;
    for (size_t i = 0; i < convs_.size(); ++i) {
      y = norms_[i]->forward(convs_[i]->forward(y));
      if (i + 1 < convs_.size()) y = torch::relu(y);
    }
    return torch::relu(y + (downsample_ ? downsample_->forward(x) : x));
  }

 private:
  void add(const std::string& name, torch::nn::Conv2d c, int64_t channels) {
    convs_.push_back(register_module(name, c));
    norms_.push_back(register_module("bn" + name.substr(4), torch::nn::BatchNorm2d(channels)));
  }
  std::vector<torch::nn::Conv2d> convs_;
  std::vector<torch::nn::BatchNorm2d> norms_;
  torch::nn::Sequential downsample_{nullptr};
};
TORCH_MODULE(ResidualBlock);

class ResNetImpl : public TorchvisionNetImpl {
 public:
  ResNetImpl(const std::string& arch, const std::vector<int64_t>& blocks, bool bottleneck)
      : TorchvisionNetImpl(arch, 512 * (bottleneck ? 4 : 1), "fc.") {
    conv1_ = register_module("conv1", conv(3, 64, 7, 2));
    bn1_ = register_module("bn1", torch::nn::BatchNorm2d(64));
    int64_t in = 64;
    for (size_t s = 0; s < blocks.size(); ++s) {
      const int64_t planes = 64 << s;
      torch::nn::Sequential layer;
      for (int64_t b = 0; b < blocks[s]; ++b) {
        layer->push_back(ResidualBlock(in, planes, b == 0 && s > 0 ? 2 : 1, bottleneck));
        in = bottleneck ? planes * 4 : planes;
      }
      layers_.push_back(register_module("layer" + std::to_string(s + 1), layer));
    }
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    namespace F = torch::nn::functional;
    auto x = torch::relu(bn1_->forward(conv1_->forward(images)));
    x = F::max_pool2d(x, F::MaxPool2dFuncOptions(3).stride(2).padding(1));
    for (auto& layer : layers_) x = layer->forward(x);
    return detail::global_mean(x);
  }

 private:
  torch::nn::Conv2d conv1_{nullptr};
  torch::nn::BatchNorm2d bn1_{nullptr};
  std::vector<torch::nn::Sequential> layers_;
};

}  // namespace

std::shared_ptr<TorchvisionNetImpl> make_resnet(int64_t depth) {
  if (depth == 18) return std::make_shared<ResNetImpl>("resnet18", std::vector<int64_t>{2, 2, 2, 2}, false);
  if (depth == 50) return std::make_shared<ResNetImpl>("resnet50", std::vector<int64_t>{3, 4, 6, 3}, true);
  TORCH_CHECK(false, "make_resnet: depth must be 18 or 50, got ", depth);
}

}  // namespace stx::modules

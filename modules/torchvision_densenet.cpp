// DenseNet-121: growth 32, blocks (6, 12, 24, 16), bottleneck width 4 x growth, 64 stem channels.
#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/pooling.h>

#include "modules/conv_blocks.h"
#include <stx/modules/torchvision_nets.h>

namespace stx::modules {
namespace {

using detail::conv;

// BN-ReLU-conv1x1 -> BN-ReLU-conv3x3 producing `growth` new channels.
class DenseLayerImpl : public torch::nn::Module {
 public:
  DenseLayerImpl(int64_t in, int64_t growth, int64_t bottleneck) {
    norm1_ = register_module("norm1", torch::nn::BatchNorm2d(in));
    conv1_ = register_module("conv1", conv(in, bottleneck, 1));
    norm2_ = register_module("norm2", torch::nn::BatchNorm2d(bottleneck));
    conv2_ = register_module("conv2", conv(bottleneck, growth, 3));
  }
  torch::Tensor forward(const torch::Tensor& x) {
    auto h = conv1_->forward(torch::relu(norm1_->forward(x)));
    return conv2_->forward(torch::relu(norm2_->forward(h)));
  }

 private:
  torch::nn::BatchNorm2d norm1_{nullptr}, norm2_{nullptr};
  torch::nn::Conv2d conv1_{nullptr}, conv2_{nullptr};
};
TORCH_MODULE(DenseLayer);

// Every layer sees the concatenation of the block input and all earlier layers' outputs.
class DenseBlockImpl : public torch::nn::Module {
 public:
  DenseBlockImpl(int64_t layers, int64_t in, int64_t growth) {
    for (int64_t i = 0; i < layers; ++i) {
      layers_.push_back(register_module("denselayer" + std::to_string(i + 1), DenseLayer(in + i * growth, growth, 4 * growth)));
    }
  }
  torch::Tensor forward(const torch::Tensor& x) {
    std::vector<torch::Tensor> features{x};
    for (auto& layer : layers_) features.push_back(layer->forward(torch::cat(features, 1)));
    return torch::cat(features, 1);
  }

 private:
  std::vector<DenseLayer> layers_;
};
TORCH_MODULE(DenseBlock);

class DenseNetImpl : public TorchvisionNetImpl {
 public:
  DenseNetImpl() : TorchvisionNetImpl("densenet121", 1024, "classifier.") {
    const int64_t growth = 32;
    const std::vector<int64_t> blocks{6, 12, 24, 16};
    detail::Stack features;
    features->push_back("conv0", conv(3, 64, 7, 2));
    features->push_back("norm0", torch::nn::BatchNorm2d(64));
    features->push_back("relu0", torch::nn::ReLU(torch::nn::ReLUOptions(true)));
    features->push_back("pool0", torch::nn::MaxPool2d(torch::nn::MaxPool2dOptions(3).stride(2).padding(1)));
    int64_t channels = 64;
    for (size_t b = 0; b < blocks.size(); ++b) {
      features->push_back("denseblock" + std::to_string(b + 1), DenseBlock(blocks[b], channels, growth));
      channels += blocks[b] * growth;
      if (b + 1 < blocks.size()) {  // transition: BN-ReLU-conv1x1 halving the channels, 2x2 average pool
        detail::Stack transition;
        transition->push_back("norm", torch::nn::BatchNorm2d(channels));
        transition->push_back("relu", torch::nn::ReLU(torch::nn::ReLUOptions(true)));
        transition->push_back("conv", conv(channels, channels / 2, 1));
        transition->push_back("pool", torch::nn::AvgPool2d(torch::nn::AvgPool2dOptions(2).stride(2)));
        features->push_back("transition" + std::to_string(b + 1), transition);
        channels /= 2;
      }
    }
    features->push_back("norm5", torch::nn::BatchNorm2d(channels));
    features_ = register_module("features", features);
  }

  torch::Tensor forward(const torch::Tensor& images) override {
    return detail::global_mean(torch::relu(features_->forward(images)));
  }

 private:
  detail::Stack features_{nullptr};
};

}  // namespace

std::shared_ptr<TorchvisionNetImpl> make_densenet121() { return std::make_shared<DenseNetImpl>(); }

}  // namespace stx::modules

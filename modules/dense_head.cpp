#include <stx/modules/dense_head.h>

#include <torch/nn/functional/activation.h>
#include <torch/nn/functional/upsampling.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/batchnorm.h>

namespace stx::modules {
namespace {

torch::Tensor upsample_to(const torch::Tensor& x, torch::IntArrayRef size) {
  namespace F = torch::nn::functional;
  return F::interpolate(x, F::InterpolateFuncOptions()
                               .size(std::vector<int64_t>{size[0], size[1]})
                               .mode(torch::kBilinear)
                               .align_corners(false));
}

}  // namespace

DenseExpressionHeadImpl::DenseExpressionHeadImpl(const DenseExpressionHeadOptions& options) : options_(options) {
  TORCH_CHECK(!options.in_channels.empty(), "DenseExpressionHead: in_channels must name at least one pyramid level");
  TORCH_CHECK(options.num_genes > 0, "DenseExpressionHead: num_genes must be positive, got ", options.num_genes);
  const int64_t d = options.decoder_channels;
  for (size_t l = 0; l < options.in_channels.size(); ++l) {
    lateral_.push_back(register_module("lateral" + std::to_string(l),
                                       torch::nn::Conv2d(torch::nn::Conv2dOptions(options.in_channels[l], d, 1))));
    smooth_.push_back(register_module(
        "smooth" + std::to_string(l),
        torch::nn::Sequential(torch::nn::Conv2d(torch::nn::Conv2dOptions(d, d, 3).padding(1).bias(false)),
                              torch::nn::BatchNorm2d(d), torch::nn::ReLU(torch::nn::ReLUOptions(true)))));
  }
  out_ = register_module("out", torch::nn::Conv2d(torch::nn::Conv2dOptions(d, options.num_genes, 1)));
}

torch::Tensor DenseExpressionHeadImpl::forward(const std::vector<torch::Tensor>& pyramid, torch::IntArrayRef out_size) {
  TORCH_CHECK(pyramid.size() == lateral_.size(), "DenseExpressionHead: expected ", lateral_.size(),
              " pyramid levels, got ", pyramid.size());
  TORCH_CHECK(out_size.size() == 2, "DenseExpressionHead: out_size must be (H, W)");
  // Top-down: start at the coarsest level, upsample and add the next finer lateral.
  torch::Tensor x;
  for (int64_t l = static_cast<int64_t>(pyramid.size()) - 1; l >= 0; --l) {
    auto lateral = lateral_[l]->forward(pyramid[l]);
    x = x.defined() ? lateral + upsample_to(x, lateral.sizes().slice(2)) : lateral;
    x = smooth_[l]->forward(x);
  }
  auto maps = upsample_to(out_->forward(x), out_size);
  return options_.nonnegative ? torch::nn::functional::softplus(maps) : maps;
}

DenseExpressionNetImpl::DenseExpressionNetImpl(int64_t num_genes, int64_t width, int64_t decoder_channels,
                                               bool nonnegative) {
  SmallCNNOptions encoder_options;
  encoder_options.width = width;
  encoder_ = register_module("encoder", SmallCNN(encoder_options));
  DenseExpressionHeadOptions head_options;
  head_options.in_channels = encoder_->pyramid_channels();
  head_options.decoder_channels = decoder_channels;
  head_options.num_genes = num_genes;
  head_options.nonnegative = nonnegative;
  head_ = register_module("head", DenseExpressionHead(head_options));
}

torch::Tensor DenseExpressionNetImpl::forward(const torch::Tensor& images) {
  return head_->forward(encoder_->forward_pyramid(images), images.sizes().slice(2));
}

}  // namespace stx::modules

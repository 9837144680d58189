#include <stx/modules/backbones.h>

#include <torch/nn/functional/pooling.h>
#include <torch/nn/modules/activation.h>

#include <filesystem>

#include <stx/modules/torchvision_nets.h>
#include <stx/modules/weights_file.h>

namespace stx::modules {
namespace {

void append_conv_bn_relu(torch::nn::Sequential& seq, int64_t in, int64_t out, int64_t stride) {
  seq->push_back(torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, 3).stride(stride).padding(1).bias(false)));
  seq->push_back(torch::nn::BatchNorm2d(out));
  seq->push_back(torch::nn::ReLU(torch::nn::ReLUOptions(true)));
}

torch::Tensor global_pool(const torch::Tensor& features) {
  return features.dim() == 4 ? features.mean({2, 3}) : features;
}

void check_images(const torch::Tensor& images, int64_t channels, const char* who) {
  TORCH_CHECK(images.dim() == 4, who, ": images must be [B, C, H, W], got shape ", images.sizes());
  TORCH_CHECK(channels < 0 || images.size(1) == channels, who, ": images must have ", channels,
              " channels, got ", images.size(1));
  TORCH_CHECK(images.is_floating_point(), who, ": images must be floating point, got ", images.scalar_type());
}

}  // namespace

SmallCNNImpl::SmallCNNImpl(const SmallCNNOptions& options) {
  TORCH_CHECK(options.stages >= 1 && options.width >= 1 && options.in_channels >= 1,
              "SmallCNN: stages, width and in_channels must be >= 1");
  int64_t in = options.in_channels;
  for (int64_t s = 0; s < options.stages; ++s) {
    const int64_t out = options.width << s;
    torch::nn::Sequential stage;
    append_conv_bn_relu(stage, in, out, 2);
    append_conv_bn_relu(stage, out, out, 1);
    stages_.push_back(register_module("stage" + std::to_string(s), stage));
    channels_.push_back(out);
    in = out;
  }
}

std::vector<torch::Tensor> SmallCNNImpl::forward_pyramid(const torch::Tensor& images) {
  check_images(images, -1, "SmallCNN");
  std::vector<torch::Tensor> levels;
  torch::Tensor x = images;
  for (auto& stage : stages_) {
    x = stage->forward(x);
    levels.push_back(x);
  }
  return levels;
}

torch::Tensor SmallCNNImpl::forward(const torch::Tensor& images) {
  return global_pool(forward_pyramid(images).back());
}

TorchScriptBackboneImpl::TorchScriptBackboneImpl(const std::string& path, int64_t probe_size) {
  TORCH_CHECK(std::filesystem::is_regular_file(path), "TorchScriptBackbone: no file at '", path, "'");
  try {
    module_ = torch::jit::load(path);
  } catch (const c10::Error& e) {
    TORCH_CHECK(false, "TorchScriptBackbone: '", path, "' is not a loadable TorchScript module: ", e.what_without_backtrace());
  }
  size_t i = 0;
  for (const auto& p : module_.named_parameters(/*recurse=*/true)) {
    register_parameter("ts_" + std::to_string(i++), p.value);
  }
  module_.eval();
  torch::NoGradGuard no_grad;
  auto probe = torch::zeros({1, 3, probe_size, probe_size});
  out_dim_ = forward(probe).size(1);
  module_.train();
}

torch::Tensor TorchScriptBackboneImpl::forward(const torch::Tensor& images) {
  check_images(images, 3, "TorchScriptBackbone");
  auto out = module_.forward({images}).toTensor();
  out = global_pool(out);
  TORCH_CHECK(out.dim() == 2, "TorchScriptBackbone: the module must return [B, F] or [B, F, h, w], got ", out.sizes());
  return out;
}

void TorchScriptBackboneImpl::train(bool on) {
  torch::nn::Module::train(on);
  module_.train(on);
}

bool is_backbone(const std::string& name_or_path) {
  return name_or_path == "small_cnn" || is_torchvision_net(name_or_path) || std::filesystem::is_regular_file(name_or_path);
}

BackboneSpec make_backbone(const std::string& name_or_path, int64_t small_cnn_width, const std::string& weights) {
  BackboneSpec spec;
  if (name_or_path == "small_cnn") {
    SmallCNNOptions options;
    options.width = small_cnn_width;
    SmallCNN net(options);
    if (!weights.empty()) load_weights_file(*net, weights, "", "small_cnn");
    spec.out_dim = net->out_dim();
    spec.base = net.ptr();
    spec.module = torch::nn::AnyModule(net);
  } else if (is_torchvision_net(name_or_path)) {
    auto net = make_torchvision_net(name_or_path, weights);
    spec.out_dim = net->out_dim();
    spec.base = net;
    spec.module = torch::nn::AnyModule(net);
  } else {
    TORCH_CHECK(std::filesystem::is_regular_file(name_or_path), "backbone '", name_or_path,
                "' is neither small_cnn, a native torchvision architecture (resnet18, resnet50, densenet121, ",
                "mobilenet_v2, efficientnet_b0) nor an existing TorchScript file");
    TORCH_CHECK(weights.empty(), "backbone '", name_or_path, "': a weights file applies to the native backbones; ",
                "a TorchScript file carries its own weights");
    TorchScriptBackbone net(name_or_path);
    spec.out_dim = net->out_dim();
    spec.base = net.ptr();
    spec.module = torch::nn::AnyModule(net);
  }
  return spec;
}

}  // namespace stx::modules

#pragma once
// Image backbones: a compact native CNN that trains on CPU, native torchvision architectures
// (stx/modules/torchvision_nets.h), and any TorchScript module file (e.g. a UNI exported by the user).
#include <torch/nn/module.h>
#include <torch/nn/modules/batchnorm.h>
#include <torch/nn/modules/container/any.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/pimpl.h>
#include <torch/script.h>

#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::modules {

struct SmallCNNOptions {
  int64_t in_channels = 3;
  int64_t width = 32;   // channels of the first stage; doubled at every stage
  int64_t stages = 4;   // each stage halves the resolution
};

// conv3x3-BN-ReLU x2 per stage with a stride-2 first conv; global average pooling at the end.
class STX_API SmallCNNImpl : public torch::nn::Module {
 public:
  explicit SmallCNNImpl(const SmallCNNOptions& options = {});
  // [B, C, H, W] float image -> pooled features [B, out_dim()].
  torch::Tensor forward(const torch::Tensor& images);
  // The feature pyramid, finest first: stage s has stride 2^(s+1) and width * 2^s channels.
  std::vector<torch::Tensor> forward_pyramid(const torch::Tensor& images);
  int64_t out_dim() const { return channels_.back(); }
  const std::vector<int64_t>& pyramid_channels() const { return channels_; }

 private:
  std::vector<torch::nn::Sequential> stages_;
  std::vector<int64_t> channels_;
};
TORCH_MODULE(SmallCNN);

// Wraps a TorchScript module file whose forward maps [B, 3, H, W] to [B, F] (or [B, F, h, w], which
// is average-pooled). Its parameters are registered, so they train and save with the owner.
class STX_API TorchScriptBackboneImpl : public torch::nn::Module {
 public:
  // `probe_size` is the image side used once to discover the feature dimension.
  explicit TorchScriptBackboneImpl(const std::string& path, int64_t probe_size = 64);
  torch::Tensor forward(const torch::Tensor& images);
  int64_t out_dim() const { return out_dim_; }
  void train(bool on = true) override;

 private:
  torch::jit::Module module_;
  int64_t out_dim_ = 0;
};
TORCH_MODULE(TorchScriptBackbone);

// "small_cnn", a torchvision architecture name (torchvision_net_names()) or a path to a TorchScript
// file; returns the module and its feature size. `weights`: a state_dict file (torch.save'd, loaded
// weights-only) for the native backbones, "" for random initialisation.
struct BackboneSpec {
  torch::nn::AnyModule module;
  int64_t out_dim = 0;
  std::shared_ptr<torch::nn::Module> base;  // for register_module
};
STX_API BackboneSpec make_backbone(const std::string& name_or_path, int64_t small_cnn_width = 32,
                                   const std::string& weights = "");
// Whether make_backbone accepts `name_or_path` (a native name or an existing file).
STX_API bool is_backbone(const std::string& name_or_path);

}  // namespace stx::modules

#pragma once
// Native C++ definitions of the torchvision ImageNet CNNs the single-patch baseline compares
// (ResNet-18/50, DenseNet-121, MobileNetV2, EfficientNet-B0), used as backbones: the network up to
// global average pooling, without the classifier. Parameter and buffer names equal torchvision's
// state_dict keys, so a state_dict the user saved with torch.save(model.state_dict()) loads into
// them with load_weights_file (stx/modules/weights_file.h); the classifier keys are skipped.
// Native definitions (not TorchScript) so both trainers build them from a name, with no Python.
#include <torch/nn/module.h>

#include <memory>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::modules {

class STX_API TorchvisionNetImpl : public torch::nn::Module {
 public:
  // [B, 3, H, W] float image -> pooled features [B, out_dim()].
  virtual torch::Tensor forward(const torch::Tensor& images) = 0;
  int64_t out_dim() const { return out_dim_; }
  const std::string& arch() const { return arch_; }
  // torchvision's classifier keys start with this ("fc." or "classifier."); weight files may hold them.
  const std::string& classifier_prefix() const { return classifier_prefix_; }

 protected:
  TorchvisionNetImpl(std::string arch, int64_t out_dim, std::string classifier_prefix)
      : arch_(std::move(arch)), out_dim_(out_dim), classifier_prefix_(std::move(classifier_prefix)) {}

 private:
  std::string arch_;
  int64_t out_dim_;
  std::string classifier_prefix_;
};

// "resnet18", "resnet50", "densenet121", "mobilenet_v2", "efficientnet_b0".
STX_API const std::vector<std::string>& torchvision_net_names();
STX_API bool is_torchvision_net(const std::string& name);
// A randomly initialised network; `weights` (a torch.save'd state_dict file, "" for none) is loaded into it.
STX_API std::shared_ptr<TorchvisionNetImpl> make_torchvision_net(const std::string& arch,
                                                                 const std::string& weights = "");

// The architectures (each .cpp defines one family).
STX_API std::shared_ptr<TorchvisionNetImpl> make_resnet(int64_t depth);
STX_API std::shared_ptr<TorchvisionNetImpl> make_densenet121();
STX_API std::shared_ptr<TorchvisionNetImpl> make_mobilenet_v2();
STX_API std::shared_ptr<TorchvisionNetImpl> make_efficientnet_b0();

}  // namespace stx::modules

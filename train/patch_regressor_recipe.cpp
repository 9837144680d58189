// The single-patch baseline recipe: PatchRegressor (a backbone fine-tuned end to end, then
// Dropout -> Linear(hidden_dim) -> ReLU -> Dropout -> Linear(G)) trained with plain MSE. Config
// backbone picks the network (small_cnn, a native torchvision architecture or a TorchScript file),
// backbone_weights an optional state_dict file for it; width, hidden_dim and dropout size it.
#include <ATen/ATen.h>
#include <torch/utils.h>

#include <stx/modules/backbones.h>
#include <stx/modules/patch_regressor.h>
#include <stx/train/recipe.h>

namespace stx::train {
namespace {

class PatchRegressorModel final : public TrainableModel {
 public:
  PatchRegressorModel(const Config& c, int64_t num_genes) : net_(nullptr) {
    const auto backbone = c.string("backbone");
    TORCH_CHECK(stx::modules::is_backbone(backbone), "config 'backbone': '", backbone,
                "' is neither a native backbone nor an existing TorchScript file");
    stx::modules::PatchRegressorOptions o;
    o.num_genes = num_genes;
    o.backbone = backbone;
    o.small_cnn_width = c.integer("width");
    o.hidden_dim = c.integer("hidden_dim");
    o.dropout = c.number("dropout");
    o.backbone_weights = c.string("backbone_weights");
    net_ = stx::modules::PatchRegressor(o);  // weight-file errors name the file and the first bad key
  }

  torch::nn::Module& module() override { return *net_; }

  void start_from_mean(const at::Tensor& mean_profile) override {
    torch::NoGradGuard no_grad;  // the head starts at the mean profile, as SCR2Net's does
    net_->named_parameters()["head.fc2.bias"].copy_(mean_profile);
  }

  // The baseline has no soft labels: the bank and the retrieval switch are unused.
  std::tuple<at::Tensor, at::Tensor> loss(const at::Tensor& images, const at::Tensor& targets, const Bank&,
                                          bool) override {
    auto prediction = net_->forward(images);
    return {at::mse_loss(prediction, targets), prediction};
  }

  at::Tensor predict(const at::Tensor& images) override { return net_->forward(images); }

 private:
  stx::modules::PatchRegressor net_;
};

}  // namespace

STX_TRAIN_RECIPE(patch_regressor) {
  return Recipe{"patch_regressor",
                "single-patch baseline: backbone (small_cnn, resnet18/50, densenet121, mobilenet_v2, "
                "efficientnet_b0 or TorchScript) + MLP head, MSE",
                [](const Config& c, int64_t genes) { return std::make_unique<PatchRegressorModel>(c, genes); }};
}

}  // namespace stx::train

// The SCR2Net recipe: SCR2Net (stx/modules/scr2net.h) trained with its C++ objective
// (stx/modules/scr2net_training.h), widths from the config (defaults: SCR2NetOptions{}).
#include <torch/utils.h>

#include <filesystem>
#include <optional>

#include <stx/modules/backbones.h>
#include <stx/modules/scr2net.h>
#include <stx/modules/scr2net_training.h>
#include <stx/ops/retrieval.h>
#include <stx/ops/soft_labels.h>
#include <stx/train/recipe.h>

namespace stx::train {
namespace {

class SCR2NetModel final : public TrainableModel {
 public:
  SCR2NetModel(const Config& c, int64_t num_genes) : net_(nullptr) {
    const auto backbone = c.string("backbone");
    TORCH_CHECK(stx::modules::is_backbone(backbone), "config 'backbone': '", backbone,
                "' is neither a native backbone nor an existing TorchScript file");
    TORCH_CHECK(c.string("backbone_weights").empty(),
                "config 'backbone_weights': model scr2net does not load weight files; use model patch_regressor");
    try {
      net_ = stx::modules::SCR2Net(stx::modules::SCR2NetOptions{num_genes, backbone, c.integer("width"),
                                                                c.integer("hidden_dim"), c.integer("projection_dim"),
                                                                c.number("dropout")});
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, "config 'backbone': '", backbone, "' cannot be used as a backbone: ",
                  e.what_without_backtrace());
    }
    options_.k = c.integer("retrieval_k");
    options_.num_types = c.integer("retrieval_types");
    options_.soft_weight = c.number("soft_weight");
    options_.soft_threshold = c.number("soft_threshold");
    options_.contrastive_weight = c.number("contrastive_weight");
    options_.temperature = c.number("temperature");
  }

  torch::nn::Module& module() override { return *net_; }

  void start_from_mean(const at::Tensor& mean_profile) override {
    torch::NoGradGuard no_grad;  // start the regression head at the mean profile
    net_->named_parameters()["regressor.fc2.bias"].copy_(mean_profile);
  }

  std::tuple<at::Tensor, at::Tensor> loss(const at::Tensor& images, const at::Tensor& targets, const Bank& bank,
                                          bool retrieval) override {
    auto o = options_;
    o.retrieval = retrieval;
    o.num_labels = bank.num_labels;
    if (!retrieval || bank.offset < 0) {
      return stx::modules::scr2net_training_loss(*net_, images, targets, bank.values, bank.labels, o);
    }
    TORCH_CHECK(bank.sharded_retrieve, "SCR2Net: a sharded bank needs a sharded_retrieve function");
    const auto retrieve = [&](const at::Tensor& image_emb) {
      return bank.sharded_retrieve(image_emb, net_->gene_embedding(bank.values), bank.values, bank.labels,
                                   bank.offset);
    };
    return stx::modules::scr2net_training_loss(*net_, images, targets, stx::modules::SoftLabelFn(retrieve), o);
  }

  at::Tensor predict(const at::Tensor& images) override { return std::get<1>(net_->forward(images)); }

 private:
  stx::modules::SCR2Net net_;
  stx::modules::SCR2NetLossOptions options_;
};

}  // namespace

STX_TRAIN_RECIPE(scr2net) {
  return Recipe{"scr2net", "SCR2Net: backbone + regression head, trained with retrieved soft labels",
                [](const Config& c, int64_t genes) { return std::make_unique<SCR2NetModel>(c, genes); }};
}

}  // namespace stx::train

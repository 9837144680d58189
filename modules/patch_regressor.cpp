#include <stx/modules/patch_regressor.h>

#include <stx/modules/backbones.h>

namespace stx::modules {
namespace {
int64_t count(const torch::nn::Module& m) {
  int64_t n = 0;
  for (const auto& p : m.parameters()) n += p.numel();
  return n;
}
}  // namespace

PatchRegressorImpl::PatchRegressorImpl(const PatchRegressorOptions& options) {
  TORCH_CHECK(options.num_genes > 0, "PatchRegressor: num_genes must be positive, got ", options.num_genes);
  auto backbone = make_backbone(options.backbone, options.small_cnn_width, options.backbone_weights);
  backbone_base_ = backbone.base;
  register_module("backbone", backbone.base);
  backbone_ = std::move(backbone.module);
  head_ = register_module("head", MLPHead(backbone.out_dim, options.hidden_dim, options.num_genes, options.dropout));
}

torch::Tensor PatchRegressorImpl::forward(const torch::Tensor& images) {
  return head_->forward(backbone_.forward(images));
}

int64_t PatchRegressorImpl::backbone_parameters() const { return count(*backbone_base_); }
int64_t PatchRegressorImpl::head_parameters() const { return count(*head_); }

}  // namespace stx::modules

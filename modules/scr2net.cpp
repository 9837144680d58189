#include <stx/modules/scr2net.h>

#include <torch/nn/functional/normalization.h>

#include <stx/modules/backbones.h>

namespace stx::modules {

SCR2NetImpl::SCR2NetImpl(const SCR2NetOptions& options) : options_(options) {
  TORCH_CHECK(options.num_genes > 0, "SCR2Net: num_genes must be positive, got ", options.num_genes);
  auto backbone = make_backbone(options.backbone, options.small_cnn_width);
  feature_dim_ = backbone.out_dim;
  register_module("backbone", backbone.base);
  backbone_ = std::move(backbone.module);
  regressor_ = register_module("regressor", MLPHead(feature_dim_, options.hidden_dim, options.num_genes, 0.0));
  image_head_ = register_module("image_head", ProjectionHead(feature_dim_, options.projection_dim, options.dropout));
  gene_head_ = register_module("gene_head", ProjectionHead(options.num_genes, options.projection_dim, options.dropout));
}

std::tuple<torch::Tensor, torch::Tensor> SCR2NetImpl::forward(const torch::Tensor& images) {
  auto features = backbone_.forward(images);
  return {features, regressor_->forward(features)};
}

torch::Tensor SCR2NetImpl::image_embedding(const torch::Tensor& features) {
  TORCH_CHECK(features.dim() == 2 && features.size(1) == feature_dim_, "SCR2Net.image_embedding: features must be [B, ",
              feature_dim_, "], got ", features.sizes());
  namespace F = torch::nn::functional;
  return F::normalize(image_head_->forward(features), F::NormalizeFuncOptions().dim(1));
}

torch::Tensor SCR2NetImpl::gene_embedding(const torch::Tensor& log_expression) {
  TORCH_CHECK(log_expression.dim() == 2 && log_expression.size(1) == options_.num_genes,
              "SCR2Net.gene_embedding: log_expression must be [N, ", options_.num_genes, "], got ", log_expression.sizes());
  namespace F = torch::nn::functional;
  return F::normalize(gene_head_->forward(log_expression), F::NormalizeFuncOptions().dim(1));
}

}  // namespace stx::modules

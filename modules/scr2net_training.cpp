#include <stx/modules/scr2net_training.h>

#include <torch/nn/functional/loss.h>
#include <torch/utils.h>

#include <algorithm>
#include <optional>

#include <stx/ops/losses.h>
#include <stx/ops/retrieval.h>
#include <stx/ops/soft_labels.h>

namespace stx::modules {

std::tuple<at::Tensor, at::Tensor> scr2net_training_loss(SCR2NetImpl& model, const at::Tensor& images,
                                                         const at::Tensor& targets, const SoftLabelFn& retrieve,
                                                         const SCR2NetLossOptions& options) {
  const int64_t genes = model.options().num_genes;
  TORCH_CHECK(targets.dim() == 2 && targets.size(1) == genes && targets.size(0) == images.size(0),
              "scr2net_training_loss: targets must be [B, ", genes, "] with B = images.size(0), got ", targets.sizes());
  auto [features, pred] = model.forward(images);
  if (!options.retrieval) {
    return {torch::nn::functional::mse_loss(pred, targets), pred};
  }
  auto image_emb = model.image_embedding(features.detach());
  auto gene_emb = model.gene_embedding(targets);
  auto contrastive = stx::ops::contrastive_loss(image_emb, gene_emb, options.temperature);

  at::Tensor soft, confidence;
  {
    torch::NoGradGuard no_grad;  // retrieval gives targets, not gradients
    std::tie(soft, confidence) = retrieve(image_emb.detach());
  }
  TORCH_CHECK(soft.defined() && soft.sizes() == pred.sizes(), "scr2net_training_loss: retrieval must return soft of ",
              "shape ", pred.sizes(), ", got ", soft.defined() ? soft.sizes() : at::IntArrayRef{});
  TORCH_CHECK(confidence.defined() && confidence.dim() == 1 && confidence.size(0) == pred.size(0),
              "scr2net_training_loss: retrieval must return confidence of shape [", pred.size(0), "]");
  auto main = stx::ops::soft_label_loss(pred, targets, soft, confidence, options.soft_weight, options.soft_threshold);
  return {main + options.contrastive_weight * contrastive, pred};
}

std::tuple<at::Tensor, at::Tensor> scr2net_training_loss(SCR2NetImpl& model, const at::Tensor& images,
                                                         const at::Tensor& targets, const at::Tensor& bank_values,
                                                         const at::Tensor& bank_labels,
                                                         const SCR2NetLossOptions& options) {
  const int64_t genes = model.options().num_genes;
  if (options.retrieval) {
    TORCH_CHECK(bank_values.dim() == 2 && bank_values.size(1) == genes && bank_values.size(0) > 0,
                "scr2net_training_loss: bank_values must be [N > 0, ", genes, "], got ", bank_values.sizes());
    TORCH_CHECK(bank_labels.dim() == 1 && bank_labels.size(0) == bank_values.size(0),
                "scr2net_training_loss: bank_labels must be [N] matching bank_values, got ", bank_labels.sizes());
    TORCH_CHECK(options.k > 0 && options.num_types > 0, "scr2net_training_loss: k and num_types must be positive");
  }
  const auto local_bank = [&](const at::Tensor& image_emb) {
    auto bank_emb = model.gene_embedding(bank_values);
    const int64_t k = std::min<int64_t>(options.k, bank_values.size(0));
    std::optional<int64_t> num_labels;
    if (options.num_labels > 0) num_labels = options.num_labels;
    auto [scores, index, keep] = stx::ops::filtered_topk(image_emb, bank_emb, bank_labels, k, options.num_types,
                                                         "cosine", std::nullopt, false, num_labels);
    return stx::ops::soft_labels(index, scores, keep, bank_values, options.weighting);
  };
  return scr2net_training_loss(model, images, targets, SoftLabelFn(local_bank), options);
}

}  // namespace stx::modules

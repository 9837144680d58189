#pragma once
// SCR2Net's training objective, shared by the Python trainer and the native stx-train program:
//   total = soft_label_loss(pred, target, soft, confidence; soft_weight, soft_threshold)
//         + contrastive_weight * contrastive_loss(image_emb(features.detach()), gene_emb(target))
// where (soft, confidence) come from filtered_topk over the bank (sequenced spots, log1p) of the
// projection-head embeddings, then soft_labels. Without retrieval: MSE(pred, target).
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>
#include <tuple>

#include <stx/macros.h>
#include <stx/modules/scr2net.h>

namespace stx::modules {

struct SCR2NetLossOptions {
  bool retrieval = true;
  int64_t k = 16;                 // neighbours retrieved per query (clipped to the bank size)
  int64_t num_types = 3;          // majority filter: keep the num_types most frequent labels
  int64_t num_labels = 0;         // 0: max(bank_labels) + 1
  std::string weighting = "mean"; // soft_labels weighting
  double soft_weight = 0.5;
  double soft_threshold = 0.1;
  double contrastive_weight = 0.1;
  double temperature = 0.5;
};

// images [B,3,H,W]; targets [B,G] log1p; bank_values [N,G] log1p; bank_labels [N] int64.
// Returns (total loss, prediction [B,G]).
STX_API std::tuple<at::Tensor, at::Tensor> scr2net_training_loss(SCR2NetImpl& model, const at::Tensor& images,
                                                                 const at::Tensor& targets,
                                                                 const at::Tensor& bank_values,
                                                                 const at::Tensor& bank_labels,
                                                                 const SCR2NetLossOptions& options = {});

// The retrieval step of the objective as a function of the batch's image embeddings [B, P]
// (detached, called under no_grad): returns (soft [B, G], confidence [B]).
using SoftLabelFn = std::function<std::tuple<at::Tensor, at::Tensor>(const at::Tensor& image_emb)>;

// The same objective with the retrieval supplied by the caller, e.g. over a bank sharded across
// ranks (Python: stx.distributed.sharded_soft_labels). The overload above is this one with
// filtered_topk + soft_labels over a local bank.
STX_API std::tuple<at::Tensor, at::Tensor> scr2net_training_loss(SCR2NetImpl& model, const at::Tensor& images,
                                                                 const at::Tensor& targets,
                                                                 const SoftLabelFn& retrieve,
                                                                 const SCR2NetLossOptions& options = {});

}  // namespace stx::modules

#include <stx/modules/nucleus_net.h>

#include <torch/nn/functional/conv.h>
#include <torch/nn/functional/embedding.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/functional/padding.h>

namespace stx::modules {
namespace {

DenseExpressionHead branch(const SmallCNN& encoder, int64_t channels, int64_t decoder_channels) {
  DenseExpressionHeadOptions o;
  o.in_channels = encoder->pyramid_channels();
  o.decoder_channels = decoder_channels;
  o.num_genes = channels;
  return DenseExpressionHead(o);
}

// Soft Dice loss of class probabilities [B, C, H, W] against one-hot targets, over the pixels of `keep`.
torch::Tensor soft_dice(const torch::Tensor& prob, const torch::Tensor& onehot, const torch::Tensor& keep) {
  const auto k = keep.unsqueeze(1).to(prob.dtype());
  const auto inter = (prob * onehot * k).sum({0, 2, 3});
  const auto total = ((prob + onehot) * k).sum({0, 2, 3});
  return (1 - (2 * inter + 1e-3) / (total + 1e-3)).mean();
}

// 3x3 Sobel derivative of each channel: along x for channel 0, along y for channel 1.
torch::Tensor sobel_hv(const torch::Tensor& hv) {
  const auto opts = hv.options();
  const auto kx = torch::tensor({-1.0, 0.0, 1.0, -2.0, 0.0, 2.0, -1.0, 0.0, 1.0}, opts).view({1, 1, 3, 3});
  const auto ky = kx.transpose(2, 3);
  namespace F = torch::nn::functional;
  const auto pad = [](const torch::Tensor& x) { return F::pad(x, F::PadFuncOptions({1, 1, 1, 1}).mode(torch::kReplicate)); };
  return torch::cat({F::conv2d(pad(hv.narrow(1, 0, 1)), kx), F::conv2d(pad(hv.narrow(1, 1, 1)), ky)}, 1);
}

}  // namespace

NucleusNetImpl::NucleusNetImpl(const NucleusNetOptions& options) : options_(options) {
  TORCH_CHECK(options.num_types >= 1, "NucleusNet: num_types must be >= 1, got ", options.num_types);
  SmallCNNOptions e;
  e.width = options.width;
  e.stages = options.stages;
  encoder_ = register_module("encoder", SmallCNN(e));
  nuclear_ = register_module("nuclear", branch(encoder_, 2, options.decoder_channels));
  distance_ = register_module("distance", branch(encoder_, 2, options.decoder_channels));
  type_ = register_module("type", branch(encoder_, options.num_types + 1, options.decoder_channels));
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> NucleusNetImpl::forward(const torch::Tensor& images) {
  TORCH_CHECK(images.dim() == 4 && images.size(1) == 3, "NucleusNet: images must be [B, 3, H, W], got ",
              images.sizes());
  const auto pyramid = encoder_->forward_pyramid(images);
  const auto size = images.sizes().slice(2);
  return {nuclear_->forward(pyramid, size), distance_->forward(pyramid, size), type_->forward(pyramid, size)};
}

torch::Tensor nucleus_loss(const torch::Tensor& nuclear_logits, const torch::Tensor& hv,
                           const torch::Tensor& type_logits, const torch::Tensor& instances,
                           const torch::Tensor& hv_target, const torch::Tensor& types,
                           const NucleusLossWeights& w) {
  TORCH_CHECK(nuclear_logits.dim() == 4 && nuclear_logits.size(1) == 2,
              "nucleus_loss: nuclear_logits must be [B, 2, H, W], got ", nuclear_logits.sizes());
  const auto B = nuclear_logits.size(0), H = nuclear_logits.size(2), W = nuclear_logits.size(3);
  TORCH_CHECK(hv.sizes() == nuclear_logits.sizes(), "nucleus_loss: hv must be [B, 2, H, W] like nuclear_logits, got ",
              hv.sizes());
  TORCH_CHECK(hv_target.sizes() == hv.sizes(), "nucleus_loss: hv_target must be ", hv.sizes(), ", got ",
              hv_target.sizes());
  TORCH_CHECK(type_logits.dim() == 4 && type_logits.size(0) == B && type_logits.size(2) == H &&
                  type_logits.size(3) == W && type_logits.size(1) >= 2,
              "nucleus_loss: type_logits must be [B, T + 1, H, W] with the same B, H, W, got ", type_logits.sizes());
  const std::vector<int64_t> map_shape{B, H, W};
  TORCH_CHECK(instances.sizes() == map_shape, "nucleus_loss: instances must be [B, H, W] = ", map_shape, ", got ",
              instances.sizes());
  TORCH_CHECK(types.sizes() == map_shape, "nucleus_loss: types must be [B, H, W] = ", map_shape, ", got ",
              types.sizes());
  const int64_t T1 = type_logits.size(1);
  TORCH_CHECK(types.numel() == 0 || (types.min().item<int64_t>() >= -1 && types.max().item<int64_t>() < T1),
              "nucleus_loss: types must be in [-1, ", T1 - 1, "] (-1: unknown type), got values in [",
              types.min().item<int64_t>(), ", ", types.max().item<int64_t>(), "]");
  namespace F = torch::nn::functional;
  const auto nuclear = (instances > 0).to(torch::kLong);
  const auto everywhere = torch::ones_like(nuclear, torch::kBool);
  const auto np_prob = nuclear_logits.softmax(1);
  const auto np_ce = F::cross_entropy(nuclear_logits, nuclear);
  const auto np_dice = soft_dice(np_prob, F::one_hot(nuclear, 2).permute({0, 3, 1, 2}).to(np_prob.dtype()), everywhere);

  const auto hv_mse = (hv - hv_target).pow(2).mean();
  const auto on_nuclei = (instances > 0).unsqueeze(1).to(hv.dtype());
  const auto grad_err = (sobel_hv(hv) - sobel_hv(hv_target)).pow(2) * on_nuclei;
  const auto msge = grad_err.sum() / (2 * on_nuclei.sum()).clamp_min(1);

  const auto known = types >= 0;
  const auto type_ce = F::cross_entropy(type_logits, types, F::CrossEntropyFuncOptions().ignore_index(-1));
  const auto tp_prob = type_logits.softmax(1);
  const auto tp_dice =
      soft_dice(tp_prob, F::one_hot(types.clamp_min(0), T1).permute({0, 3, 1, 2}).to(tp_prob.dtype()), known);
  // With no known pixel the cross-entropy is NaN (0 / 0): that term then contributes nothing.
  const auto type_term = known.any().item<bool>() ? w.type_ce * type_ce : torch::zeros_like(np_ce);
  return w.nuclear_ce * np_ce + w.nuclear_dice * np_dice + w.hv_mse * hv_mse + w.hv_msge * msge + type_term +
         w.type_dice * tp_dice;
}

}  // namespace stx::modules

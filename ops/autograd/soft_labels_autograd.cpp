// Autograd for soft_labels: forward re-dispatches below autograd, backward calls the dispatched
// _soft_labels_backward op (CPU/CUDA kernels). Double backward raises a clear error.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace stx::ops::soft {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SoftLabelsFunction : public torch::autograd::Function<SoftLabelsFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& index, const at::Tensor& scores,
                               const std::optional<at::Tensor>& keep, const at::Tensor& bank_values,
                               c10::string_view weighting, double temperature) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static const auto op = c10::Dispatcher::singleton()
                               .findSchemaOrThrow("stx::soft_labels", "")
                               .typed<std::tuple<at::Tensor, at::Tensor>(
                                   const at::Tensor&, const at::Tensor&, const std::optional<at::Tensor>&,
                                   const at::Tensor&, c10::string_view, double)>();
    auto [soft, conf] = op.call(index, scores, keep, bank_values, weighting, temperature);
    ctx->save_for_backward({index, scores, keep.value_or(at::Tensor()), bank_values});
    ctx->saved_data["weighting"] = std::string(weighting);
    ctx->saved_data["temperature"] = temperature;
    ctx->saved_data["need_scores"] = scores.requires_grad();
    ctx->saved_data["need_bank"] = bank_values.requires_grad();
    return {soft, conf};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op =
        c10::Dispatcher::singleton()
            .findSchemaOrThrow("stx::_soft_labels_backward", "")
            .typed<std::tuple<at::Tensor, at::Tensor>(
                const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&,
                const std::optional<at::Tensor>&, const at::Tensor&, c10::string_view, double, std::array<bool, 2>)>();
    const auto saved = ctx->get_saved_variables();
    const bool need_scores = ctx->saved_data["need_scores"].toBool();
    const bool need_bank = ctx->saved_data["need_bank"].toBool();
    const std::string weighting = ctx->saved_data["weighting"].toStringRef();
    const std::optional<at::Tensor> keep = saved[2].defined() ? std::optional<at::Tensor>(saved[2]) : std::nullopt;
    auto [g_scores, g_bank] = op.call(grads[0], grads[1], saved[0], saved[1], keep, saved[3], weighting,
                                      ctx->saved_data["temperature"].toDouble(), {need_scores, need_bank});
    return {at::Tensor(), need_scores ? g_scores : at::Tensor(), at::Tensor(), need_bank ? g_bank : at::Tensor(),
            at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> soft_labels_autograd(const at::Tensor& index, const at::Tensor& scores,
                                                        const std::optional<at::Tensor>& keep,
                                                        const at::Tensor& bank_values, c10::string_view weighting,
                                                        double temperature) {
  auto out = SoftLabelsFunction::apply(index, scores, keep, bank_values, weighting, temperature);
  return {out[0], out[1]};
}

}  // namespace
}  // namespace stx::ops::soft

TORCH_LIBRARY_IMPL(stx, Autograd, m) {
  m.impl("soft_labels", &stx::ops::soft::soft_labels_autograd);
  m.impl("_soft_labels_backward", torch::autograd::autogradNotImplementedFallback());
}

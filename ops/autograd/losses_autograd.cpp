// Autograd for the loss family: each forward re-dispatches below autograd, each backward calls
// the family's dispatched _<op>_backward (fused CPU kernel / ATen on CUDA). Double backward raises.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/csrc/autograd/autograd_not_implemented_fallback.h>
#include <torch/csrc/autograd/custom_function.h>
#include <torch/library.h>

namespace stx::ops::losses {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

template <typename Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

at::Tensor grad_or_none(bool needed, const at::Tensor& g) { return needed ? g : at::Tensor(); }

class SoftLabelLossFunction : public torch::autograd::Function<SoftLabelLossFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& pred, const at::Tensor& target,
                            const at::Tensor& soft, const at::Tensor& confidence, double weight, double threshold,
                            c10::string_view base, double delta) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static const auto op = find_op<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&,
                                              const at::Tensor&, double, double, c10::string_view, double)>(
        "stx::soft_label_loss");
    ctx->save_for_backward({pred, target, soft, confidence});
    ctx->saved_data["weight"] = weight;
    ctx->saved_data["threshold"] = threshold;
    ctx->saved_data["base"] = std::string(base);
    ctx->saved_data["delta"] = delta;
    ctx->saved_data["need"] = c10::List<bool>({pred.requires_grad(), target.requires_grad(), soft.requires_grad()});
    return op.call(pred, target, soft, confidence, weight, threshold, base, delta);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<std::tuple<at::Tensor, at::Tensor, at::Tensor>(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, const at::Tensor&, double, double,
        c10::string_view, double, std::array<bool, 3>)>("stx::_soft_label_loss_backward");
    const auto s = ctx->get_saved_variables();
    const auto need = ctx->saved_data["need"].toBoolList();
    const std::array<bool, 3> mask{need[0], need[1], need[2]};
    auto [gp, gt, gs] = op.call(grads[0], s[0], s[1], s[2], s[3], ctx->saved_data["weight"].toDouble(),
                                ctx->saved_data["threshold"].toDouble(), ctx->saved_data["base"].toStringRef(),
                                ctx->saved_data["delta"].toDouble(), mask);
    return {grad_or_none(mask[0], gp), grad_or_none(mask[1], gt), grad_or_none(mask[2], gs), at::Tensor(),
            at::Tensor(),           at::Tensor(),           at::Tensor(),           at::Tensor()};
  }
};

class PearsonLossFunction : public torch::autograd::Function<PearsonLossFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& pred, const at::Tensor& target, int64_t dim,
                            double eps) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static const auto op =
        find_op<at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, double)>("stx::pearson_loss");
    ctx->save_for_backward({pred, target});
    ctx->saved_data["dim"] = dim;
    ctx->saved_data["eps"] = eps;
    ctx->saved_data["need"] = c10::List<bool>({pred.requires_grad(), target.requires_grad()});
    return op.call(pred, target, dim, eps);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(
        const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double, std::array<bool, 2>)>(
        "stx::_pearson_loss_backward");
    const auto s = ctx->get_saved_variables();
    const auto need = ctx->saved_data["need"].toBoolList();
    const std::array<bool, 2> mask{need[0], need[1]};
    auto [gp, gt] = op.call(grads[0], s[0], s[1], ctx->saved_data["dim"].toInt(), ctx->saved_data["eps"].toDouble(),
                            mask);
    return {grad_or_none(mask[0], gp), grad_or_none(mask[1], gt), at::Tensor(), at::Tensor()};
  }
};

class ContrastiveLossFunction : public torch::autograd::Function<ContrastiveLossFunction> {
 public:
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& a, const at::Tensor& b, double temperature) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static const auto op =
        find_op<at::Tensor(const at::Tensor&, const at::Tensor&, double)>("stx::contrastive_loss");
    ctx->save_for_backward({a, b});
    ctx->saved_data["temperature"] = temperature;
    return op.call(a, b, temperature);
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    static const auto op = find_op<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                      const at::Tensor&, double)>(
        "stx::_contrastive_loss_backward");
    const auto s = ctx->get_saved_variables();
    auto [ga, gb] = op.call(grads[0], s[0], s[1], ctx->saved_data["temperature"].toDouble());
    return {grad_or_none(s[0].requires_grad(), ga), grad_or_none(s[1].requires_grad(), gb), at::Tensor()};
  }
};

at::Tensor soft_label_loss_autograd(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                                    const at::Tensor& confidence, double weight, double threshold,
                                    c10::string_view base, double delta) {
  return SoftLabelLossFunction::apply(pred, target, soft, confidence, weight, threshold, base, delta);
}

at::Tensor pearson_loss_autograd(const at::Tensor& pred, const at::Tensor& target, int64_t dim, double eps) {
  return PearsonLossFunction::apply(pred, target, dim, eps);
}

at::Tensor contrastive_loss_autograd(const at::Tensor& a, const at::Tensor& b, double temperature) {
  return ContrastiveLossFunction::apply(a, b, temperature);
}

}  // namespace
}  // namespace stx::ops::losses

TORCH_LIBRARY_IMPL(stx, Autograd, m) {
  m.impl("soft_label_loss", &stx::ops::losses::soft_label_loss_autograd);
  m.impl("pearson_loss", &stx::ops::losses::pearson_loss_autograd);
  m.impl("contrastive_loss", &stx::ops::losses::contrastive_loss_autograd);
  m.impl("_soft_label_loss_backward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_pearson_loss_backward", torch::autograd::autogradNotImplementedFallback());
  m.impl("_contrastive_loss_backward", torch::autograd::autogradNotImplementedFallback());
}

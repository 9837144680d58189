// Autograd for label_pool and its backward op. _label_pool_backward is the adjoint of label_pool
// (same labels, counts and reduce), so each op's backward is the other one, called through the
// dispatcher: C++-only programs get gradients and double backward works. labels get no gradient.
#include <torch/autograd.h>
#include <torch/library.h>

#include <stx/ops/label_pool.h>

namespace stx::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

at::Tensor call_label_pool_backward(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                    c10::string_view reduce, int64_t ignore_index) {
  static auto op = c10::Dispatcher::singleton()
                       .findSchemaOrThrow("stx::_label_pool_backward", "")
                       .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::string_view,
                                         int64_t)>();
  return op.call(grad, labels, count, reduce, ignore_index);
}

class LabelPoolFunction : public torch::autograd::Function<LabelPoolFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& dense, const at::Tensor& labels,
                               c10::SymInt num_labels, c10::string_view reduce, int64_t ignore_index) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto op = c10::Dispatcher::singleton()
                         .findSchemaOrThrow("stx::label_pool", "")
                         .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                   c10::SymInt, c10::string_view, int64_t)>();
    auto [out, count] = op.call(dense, labels, std::move(num_labels), reduce, ignore_index);
    ctx->save_for_backward({labels, count});
    ctx->saved_data["reduce"] = std::string(reduce);
    ctx->saved_data["ignore_index"] = ignore_index;
    ctx->mark_non_differentiable({count});
    return {out, count};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad_dense;
    if (grads[0].defined()) {
      grad_dense = call_label_pool_backward(grads[0], saved[0], saved[1], ctx->saved_data["reduce"].toStringRef(),
                                            ctx->saved_data["ignore_index"].toInt());
    }
    return {grad_dense, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class LabelPoolBackwardFunction : public torch::autograd::Function<LabelPoolBackwardFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& grad, const at::Tensor& labels,
                               const at::Tensor& count, c10::string_view reduce, int64_t ignore_index) {
    at::AutoDispatchBelowADInplaceOrView guard;
    at::Tensor out = call_label_pool_backward(grad, labels, count, reduce, ignore_index);
    ctx->save_for_backward({labels});
    ctx->saved_data["num_labels"] = grad.sym_size(1);
    ctx->saved_data["reduce"] = std::string(reduce);
    ctx->saved_data["ignore_index"] = ignore_index;
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad_grad;
    if (grads[0].defined()) {
      static auto op = c10::Dispatcher::singleton()
                           .findSchemaOrThrow("stx::label_pool", "")
                           .typed<std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&,
                                                                     c10::SymInt, c10::string_view, int64_t)>();
      grad_grad = std::get<0>(op.call(grads[0], saved[0], ctx->saved_data["num_labels"].toSymInt(),
                                      ctx->saved_data["reduce"].toStringRef(),
                                      ctx->saved_data["ignore_index"].toInt()));
    }
    return {grad_grad, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> label_pool_autograd(const at::Tensor& dense, const at::Tensor& labels,
                                                       c10::SymInt num_labels, c10::string_view reduce,
                                                       int64_t ignore_index) {
  auto result = LabelPoolFunction::apply(dense, labels, std::move(num_labels), reduce, ignore_index);
  return {result[0], result[1]};
}

at::Tensor label_pool_backward_autograd(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                        c10::string_view reduce, int64_t ignore_index) {
  return LabelPoolBackwardFunction::apply(grad, labels, count, reduce, ignore_index)[0];
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, Autograd, m) {
  m.impl("label_pool", &stx::ops::label_pool_autograd);
  m.impl("_label_pool_backward", &stx::ops::label_pool_backward_autograd);
}

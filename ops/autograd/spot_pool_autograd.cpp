// Autograd for spot_pool / spot_splat. Each op is the other's adjoint, so each backward is the
// other op called through the dispatcher: gradients work from C++-only programs, and double
// backward comes for free (the backward op records its own autograd node when create_graph).
// centers and radii get no gradient.
#include <torch/autograd.h>
#include <torch/library.h>

#include <stx/ops/spot_pool.h>

namespace stx::ops {
namespace {

using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

class SpotPoolFunction : public torch::autograd::Function<SpotPoolFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& dense, const at::Tensor& centers,
                               const at::Tensor& radii, c10::string_view shape, c10::string_view reduce,
                               double sigma) {
    at::AutoDispatchBelowADInplaceOrView guard;
    auto [out, coverage] = spot_pool(dense, centers, radii, shape, reduce, sigma);
    ctx->save_for_backward({centers, radii});
    ctx->saved_data["shape"] = std::string(shape);
    ctx->saved_data["reduce"] = std::string(reduce);
    ctx->saved_data["sigma"] = sigma;
    ctx->saved_data["batch"] = dense.sym_size(0);
    ctx->saved_data["height"] = dense.sym_size(2);
    ctx->saved_data["width"] = dense.sym_size(3);
    ctx->mark_non_differentiable({coverage});
    return {out, coverage};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    static auto splat = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("stx::spot_splat", "")
                            .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::SymInt,
                                              c10::SymInt, c10::SymInt, c10::string_view, c10::string_view, double)>();
    at::Tensor grad_dense;
    if (grads[0].defined()) {
      grad_dense = splat.call(grads[0], saved[0], saved[1], ctx->saved_data["batch"].toSymInt(),
                              ctx->saved_data["height"].toSymInt(), ctx->saved_data["width"].toSymInt(),
                              ctx->saved_data["shape"].toStringRef(), ctx->saved_data["reduce"].toStringRef(),
                              ctx->saved_data["sigma"].toDouble());
    }
    return {grad_dense, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

class SpotSplatFunction : public torch::autograd::Function<SpotSplatFunction> {
 public:
  static variable_list forward(AutogradContext* ctx, const at::Tensor& values, const at::Tensor& centers,
                               const at::Tensor& radii, c10::SymInt batch, c10::SymInt height, c10::SymInt width,
                               c10::string_view shape, c10::string_view reduce, double sigma) {
    at::AutoDispatchBelowADInplaceOrView guard;
    static auto splat = c10::Dispatcher::singleton()
                            .findSchemaOrThrow("stx::spot_splat", "")
                            .typed<at::Tensor(const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::SymInt,
                                              c10::SymInt, c10::SymInt, c10::string_view, c10::string_view, double)>();
    at::Tensor out = splat.call(values, centers, radii, batch, height, width, shape, reduce, sigma);
    ctx->save_for_backward({centers, radii});
    ctx->saved_data["shape"] = std::string(shape);
    ctx->saved_data["reduce"] = std::string(reduce);
    ctx->saved_data["sigma"] = sigma;
    return {out};
  }

  static variable_list backward(AutogradContext* ctx, variable_list grads) {
    const auto saved = ctx->get_saved_variables();
    at::Tensor grad_values;
    if (grads[0].defined()) {
      grad_values = std::get<0>(spot_pool(grads[0], saved[0], saved[1], ctx->saved_data["shape"].toStringRef(),
                                          ctx->saved_data["reduce"].toStringRef(),
                                          ctx->saved_data["sigma"].toDouble()));
    }
    return {grad_values, at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor(),
            at::Tensor(), at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

std::tuple<at::Tensor, at::Tensor> spot_pool_autograd(const at::Tensor& dense, const at::Tensor& centers,
                                                      const at::Tensor& radii, c10::string_view shape,
                                                      c10::string_view reduce, double sigma) {
  auto result = SpotPoolFunction::apply(dense, centers, radii, shape, reduce, sigma);
  return {result[0], result[1]};
}

at::Tensor spot_splat_autograd(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii,
                               c10::SymInt batch, c10::SymInt height, c10::SymInt width, c10::string_view shape,
                               c10::string_view reduce, double sigma) {
  return SpotSplatFunction::apply(values, centers, radii, std::move(batch), std::move(height), std::move(width), shape,
                                  reduce, sigma)[0];
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, Autograd, m) {
  m.impl("spot_pool", &stx::ops::spot_pool_autograd);
  m.impl("spot_splat", &stx::ops::spot_splat_autograd);
}

#pragma once
// Argument checks of the loss family, shared by the CPU kernels and the ATen (CUDA) versions, and
// the device-generic contrastive_loss kernel (ops/losses_composite.cpp) that both backends register.
#include <cmath>
#include <limits>
#include <string>
#include <tuple>

#include <ATen/core/Tensor.h>
#include <c10/util/Exception.h>
#include <c10/util/string_view.h>

namespace stx::ops::losses {

enum class Base { kMse, kHuber };

inline Base parse_base(c10::string_view base) {
  if (base == "mse") return Base::kMse;
  if (base == "huber") return Base::kHuber;
  TORCH_CHECK(false, "soft_label_loss: base must be \"mse\" or \"huber\", got \"", std::string(base), "\"");
}

inline void check_same(const char* op, const at::Tensor& ref, const char* ref_name, const at::Tensor& t,
                       const char* name) {
  TORCH_CHECK(t.scalar_type() == ref.scalar_type(), op, ": ", name, " dtype (", t.scalar_type(), ") must equal ",
              ref_name, " dtype (", ref.scalar_type(), ")");
  TORCH_CHECK(t.device() == ref.device(), op, ": ", name, " is on ", t.device(), " but ", ref_name, " is on ",
              ref.device());
}

// The backward ops of the scalar losses take the loss's gradient: one value.
inline void check_scalar_grad(const char* op, const at::Tensor& grad) {
  TORCH_CHECK(grad.numel() == 1, op, ": grad must hold one value (the loss is a scalar), got shape ", grad.sizes());
}

inline void check_soft_label_loss(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                                  const at::Tensor& confidence, double weight, double delta) {
  const char* op = "soft_label_loss";
  TORCH_CHECK(pred.dim() == 2, op, ": pred must be 2-D [B, G], got ", pred.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(pred.scalar_type()), op, ": pred must be floating point, got ", pred.scalar_type());
  TORCH_CHECK(target.sizes() == pred.sizes(), op, ": target shape ", target.sizes(), " must equal pred shape ",
              pred.sizes());
  TORCH_CHECK(soft.sizes() == pred.sizes(), op, ": soft shape ", soft.sizes(), " must equal pred shape ",
              pred.sizes());
  TORCH_CHECK(confidence.dim() == 1 && confidence.size(0) == pred.size(0), op, ": confidence must have shape [B]=[",
              pred.size(0), "], got ", confidence.sizes());
  check_same(op, pred, "pred", target, "target");
  check_same(op, pred, "pred", soft, "soft");
  check_same(op, pred, "pred", confidence, "confidence");
  TORCH_CHECK(pred.numel() > 0, op, ": pred must not be empty, got shape ", pred.sizes());
  // The kernels compute in pred's dtype: the scalars must be representable there.
  const double limit = pred.scalar_type() == at::kDouble ? std::numeric_limits<double>::max()
                       : pred.scalar_type() == at::kHalf ? 65504.0
                                                         : static_cast<double>(std::numeric_limits<float>::max());
  TORCH_CHECK(weight >= 0 && weight <= limit, op, ": weight must be >= 0 and finite in pred's dtype, got ", weight);
  TORCH_CHECK(delta > 0 && delta <= limit, op, ": delta must be positive and finite in pred's dtype, got ", delta);
}

// Returns the wrapped dim (0 or 1).
inline int64_t check_pearson(const char* op, const at::Tensor& pred, const at::Tensor& target, int64_t dim) {
  TORCH_CHECK(pred.dim() == 2, op, ": pred must be 2-D, got ", pred.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(pred.scalar_type()), op, ": pred must be floating point, got ", pred.scalar_type());
  TORCH_CHECK(target.sizes() == pred.sizes(), op, ": target shape ", target.sizes(), " must equal pred shape ",
              pred.sizes());
  check_same(op, pred, "pred", target, "target");
  TORCH_CHECK(dim >= -2 && dim <= 1, op, ": dim must be in [-2, 1], got ", dim);
  const int64_t d = dim < 0 ? dim + 2 : dim;
  TORCH_CHECK(pred.size(d) >= 2, op, ": needs at least 2 samples along dim ", dim, ", got ", pred.size(d));
  TORCH_CHECK(pred.size(1 - d) >= 1, op, ": needs at least one series (the other dim is empty)");
  return d;
}

inline void check_contrastive(const at::Tensor& a, const at::Tensor& b, double temperature) {
  const char* op = "contrastive_loss";
  TORCH_CHECK(a.dim() == 2, op, ": a must be 2-D [B, D], got ", a.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(a.scalar_type()), op, ": a must be floating point, got ", a.scalar_type());
  TORCH_CHECK(b.sizes() == a.sizes(), op, ": b shape ", b.sizes(), " must equal a shape ", a.sizes());
  check_same(op, a, "a", b, "b");
  TORCH_CHECK(a.size(0) > 0, op, ": batch must not be empty");
  TORCH_CHECK(temperature > 0, op, ": temperature must be positive, got ", temperature);
}

// contrastive_loss and its backward in ATen ops (any device); defined in ops/losses_composite.cpp.
at::Tensor contrastive_loss_aten(const at::Tensor& a, const at::Tensor& b, double temperature);
std::tuple<at::Tensor, at::Tensor> contrastive_loss_backward_aten(const at::Tensor& grad, const at::Tensor& a,
                                                                  const at::Tensor& b, double temperature);

}  // namespace stx::ops::losses

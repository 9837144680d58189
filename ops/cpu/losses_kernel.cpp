// Fused CPU kernels of soft_label_loss and pearson_loss (forward and backward): one or two
// streaming passes, no [B, G] temporaries besides the gradients themselves.
#include <algorithm>
#include <array>
#include <cmath>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/cpu/losses_pearson.h"
#include "ops/losses_common.h"

namespace stx::ops::losses {
namespace {

template <typename A>
inline A base_value(Base base, A d, A delta) {
  if (base == Base::kMse) return d * d;
  const A ad = std::abs(d);
  return ad < delta ? A(0.5) * d * d : delta * (ad - A(0.5) * delta);
}

template <typename A>
inline A base_grad(Base base, A d, A delta) {  // d base / d d
  if (base == Base::kMse) return 2 * d;
  return d < -delta ? -delta : (d > delta ? delta : d);
}

at::Tensor soft_label_loss_cpu(const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
                               const at::Tensor& confidence, double weight, double threshold, c10::string_view base_s,
                               double delta) {
  check_soft_label_loss(pred, target, soft, confidence, weight, delta);
  const Base base = parse_base(base_s);
  const int64_t B = pred.size(0), G = pred.size(1);
  const at::Tensor p = pred.contiguous(), t = target.contiguous(), s = soft.contiguous(), c = confidence.contiguous();
  std::vector<double> rows(B);  // per-sample sums, added in a fixed order -> deterministic
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "soft_label_loss", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t *pp = p.const_data_ptr<scalar_t>(), *tp = t.const_data_ptr<scalar_t>(),
                   *sp = s.const_data_ptr<scalar_t>(), *cp = c.const_data_ptr<scalar_t>();
    const acc_t dl = static_cast<acc_t>(delta);
    at::parallel_for(0, B, std::max<int64_t>(1, kSerialElements / G), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        acc_t sum_base = 0, sum_kd = 0;
        const int64_t o = b * G;
        for (int64_t g = 0; g < G; ++g) {
          sum_base += base_value<acc_t>(base, static_cast<acc_t>(pp[o + g]) - static_cast<acc_t>(tp[o + g]), dl);
        }
        if (static_cast<double>(cp[b]) > threshold) {
          for (int64_t g = 0; g < G; ++g) {
            const acc_t e = static_cast<acc_t>(pp[o + g]) - static_cast<acc_t>(sp[o + g]);
            sum_kd += e * e;
          }
        }
        rows[b] = static_cast<double>(sum_base) + weight * static_cast<double>(sum_kd);
      }
    });
  });
  double total = 0;
  for (double r : rows) total += r;
  return at::scalar_tensor(total / static_cast<double>(B * G), pred.options());
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> soft_label_loss_backward_cpu(
    const at::Tensor& grad, const at::Tensor& pred, const at::Tensor& target, const at::Tensor& soft,
    const at::Tensor& confidence, double weight, double threshold, c10::string_view base_s, double delta,
    std::array<bool, 3> mask) {
  check_soft_label_loss(pred, target, soft, confidence, weight, delta);
  const Base base = parse_base(base_s);
  const int64_t B = pred.size(0), G = pred.size(1);
  const at::Tensor p = pred.contiguous(), t = target.contiguous(), s = soft.contiguous(), c = confidence.contiguous();
  auto out = [&](bool needed) { return needed ? at::empty_like(p) : at::empty({0}, pred.options()); };
  at::Tensor gp = out(mask[0]), gt = out(mask[1]), gs = out(mask[2]);
  check_scalar_grad("_soft_label_loss_backward", grad);
  const double scale = grad.item<double>() / static_cast<double>(B * G);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, p.scalar_type(), "soft_label_loss_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t *pp = p.const_data_ptr<scalar_t>(), *tp = t.const_data_ptr<scalar_t>(),
                   *sp = s.const_data_ptr<scalar_t>(), *cp = c.const_data_ptr<scalar_t>();
    scalar_t* gpp = mask[0] ? gp.mutable_data_ptr<scalar_t>() : nullptr;
    scalar_t* gtp = mask[1] ? gt.mutable_data_ptr<scalar_t>() : nullptr;
    scalar_t* gsp = mask[2] ? gs.mutable_data_ptr<scalar_t>() : nullptr;
    const acc_t dl = static_cast<acc_t>(delta), sc = static_cast<acc_t>(scale);
    at::parallel_for(0, B, std::max<int64_t>(1, kSerialElements / G), [&](int64_t b0, int64_t b1) {
      for (int64_t b = b0; b < b1; ++b) {
        const acc_t kd = static_cast<double>(cp[b]) > threshold ? static_cast<acc_t>(2 * weight) : acc_t(0);
        const int64_t o = b * G;
        for (int64_t g = 0; g < G; ++g) {
          const acc_t pv = static_cast<acc_t>(pp[o + g]);
          const acc_t db = sc * base_grad<acc_t>(base, pv - static_cast<acc_t>(tp[o + g]), dl);
          const acc_t de = sc * kd * (pv - static_cast<acc_t>(sp[o + g]));
          if (gpp) gpp[o + g] = static_cast<scalar_t>(db + de);
          if (gtp) gtp[o + g] = static_cast<scalar_t>(-db);
          if (gsp) gsp[o + g] = static_cast<scalar_t>(-de);
        }
      }
    });
  });
  return {gp, gt, gs};
}

// Pearson along dim: the kernels reduce over rows of a contiguous [N, G] block, so dim=1 works
// on the transposed copy.
at::Tensor rows_layout(const at::Tensor& x, int64_t d) { return (d == 0 ? x : x.t()).contiguous(); }

at::Tensor pearson_loss_cpu(const at::Tensor& pred, const at::Tensor& target, int64_t dim, double eps) {
  const int64_t d = check_pearson("pearson_loss", pred, target, dim);
  TORCH_CHECK(eps >= 0, "pearson_loss: eps must be >= 0, got ", eps);
  const at::Tensor x = rows_layout(pred, d), y = rows_layout(target, d);
  const int64_t N = x.size(0), G = x.size(1);
  double mean_r = 0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pearson_loss", [&] {
    const PearsonStats st = pearson_stats(x.const_data_ptr<scalar_t>(), y.const_data_ptr<scalar_t>(), N, G);
    for (int64_t g = 0; g < G; ++g) {
      mean_r += st.sxy[g] / (std::sqrt(st.sxx[g]) * std::sqrt(st.syy[g]) + eps);
    }
  });
  return at::scalar_tensor(1.0 - mean_r / static_cast<double>(G), pred.options());
}

std::tuple<at::Tensor, at::Tensor> pearson_loss_backward_cpu(const at::Tensor& grad, const at::Tensor& pred,
                                                             const at::Tensor& target, int64_t dim, double eps,
                                                             std::array<bool, 2> mask) {
  const int64_t d = check_pearson("pearson_loss", pred, target, dim);
  const at::Tensor x = rows_layout(pred, d), y = rows_layout(target, d);
  const int64_t N = x.size(0), G = x.size(1);
  auto out = [&](bool needed) { return needed ? at::empty_like(x) : at::empty({0}, pred.options()); };
  at::Tensor gx = out(mask[0]), gy = out(mask[1]);
  check_scalar_grad("_pearson_loss_backward", grad);
  const double go = grad.item<double>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pearson_loss_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* xp = x.const_data_ptr<scalar_t>();
    const scalar_t* yp = y.const_data_ptr<scalar_t>();
    const PearsonStats st = pearson_stats(xp, yp, N, G);
    // d r / d x_i = yc_i / D - sxy sy / (D^2 sx) xc_i with D = sx sy + eps (and symmetrically for y);
    // the loss is 1 - mean r, so each coefficient carries -go / G.
    std::vector<acc_t> mx(G), my(G), cxy(G), cxx(G), cyx(G), cyy(G);
    for (int64_t g = 0; g < G; ++g) {
      const double sx = std::sqrt(st.sxx[g]), sy = std::sqrt(st.syy[g]), den = sx * sy + eps;
      const double f = -go / static_cast<double>(G);
      mx[g] = static_cast<acc_t>(st.mx[g]);
      my[g] = static_cast<acc_t>(st.my[g]);
      cxy[g] = static_cast<acc_t>(f / den);
      cxx[g] = static_cast<acc_t>(sx > 0 ? -f * st.sxy[g] * sy / (den * den * sx) : 0.0);
      cyy[g] = static_cast<acc_t>(sy > 0 ? -f * st.sxy[g] * sx / (den * den * sy) : 0.0);
      cyx[g] = cxy[g];
    }
    scalar_t* gxp = mask[0] ? gx.mutable_data_ptr<scalar_t>() : nullptr;
    scalar_t* gyp = mask[1] ? gy.mutable_data_ptr<scalar_t>() : nullptr;
    at::parallel_for(0, N, std::max<int64_t>(1, kSerialElements / G), [&](int64_t i0, int64_t i1) {
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t o = i * G;
        for (int64_t g = 0; g < G; ++g) {
          const acc_t xc = static_cast<acc_t>(xp[o + g]) - mx[g];
          const acc_t yc = static_cast<acc_t>(yp[o + g]) - my[g];
          if (gxp) gxp[o + g] = static_cast<scalar_t>(cxy[g] * yc + cxx[g] * xc);
          if (gyp) gyp[o + g] = static_cast<scalar_t>(cyx[g] * xc + cyy[g] * yc);
        }
      }
    });
  });
  if (d == 1) {
    if (mask[0]) gx = gx.t().contiguous();
    if (mask[1]) gy = gy.t().contiguous();
  }
  return {gx, gy};
}

}  // namespace
}  // namespace stx::ops::losses

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("soft_label_loss", &stx::ops::losses::soft_label_loss_cpu);
  m.impl("_soft_label_loss_backward", &stx::ops::losses::soft_label_loss_backward_cpu);
  m.impl("pearson_loss", &stx::ops::losses::pearson_loss_cpu);
  m.impl("_pearson_loss_backward", &stx::ops::losses::pearson_loss_backward_cpu);
}

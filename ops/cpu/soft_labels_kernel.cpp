// CPU kernels of soft_labels: per-row weights (ops/soft_labels_common.h), a weighted gather-sum
// parallel over queries, and a backward whose bank gradient is parallel over gene columns so
// every thread owns its columns (deterministic, no atomics).
#include <array>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/cpu/vector_kernels.h"
#include "ops/soft_labels_common.h"

namespace stx::ops::soft {
namespace {

struct Inputs {
  at::Tensor index, scores, keep, bank;  // contiguous; keep may be undefined
  int64_t Q, K, N, G;
};

Inputs prepare(const at::Tensor& index, const at::Tensor& scores, const std::optional<at::Tensor>& keep,
               const at::Tensor& bank_values) {
  return {index.contiguous(),
          scores.contiguous(),
          keep.has_value() ? keep->contiguous() : at::Tensor(),
          bank_values.contiguous(),
          index.size(0),
          index.size(1),
          bank_values.size(0),
          bank_values.size(1)};
}

// y += a * x and <a, b> accumulated in A; float/double rows go to the vectorised kernels.
template <typename A, typename S>
inline void add_scaled(A a, const S* x, A* y, int64_t n) {
  if constexpr (std::is_same_v<S, A>) {
    cpu::axpy(a, x, y, n);
  } else {
    for (int64_t i = 0; i < n; ++i) y[i] += a * static_cast<A>(x[i]);
  }
}

template <typename A, typename S>
inline A dot_in(const S* a, const S* b, int64_t n) {
  if constexpr (std::is_same_v<S, A>) {
    return cpu::dot(a, b, n);
  } else {
    A s = 0;
    for (int64_t i = 0; i < n; ++i) s += static_cast<A>(a[i]) * static_cast<A>(b[i]);
    return s;
  }
}

inline bool used(const int64_t* idx, const bool* keep, int64_t j) {
  return idx[j] >= 0 && (keep == nullptr || keep[j]);
}

// out = sum of w[j] * bank row idx[j] over the used neighbours j (w is overwritten). float/double
// rows go through one register-blocked pass; reduced precision accumulates in A row by row.
template <typename A, typename S>
void weighted_neighbour_sum(const int64_t* idx, const bool* keep, int64_t K, A* w, const S* bank, int64_t G, S* out,
                            std::vector<const S*>& rows, std::vector<A>& acc) {
  if constexpr (std::is_same_v<S, A>) {
    int64_t m = 0;
    for (int64_t j = 0; j < K; ++j) {
      if (!used(idx, keep, j)) continue;
      rows[m] = bank + idx[j] * G;
      w[m++] = w[j];  // m <= j: compacting in place reads each weight before overwriting it
    }
    cpu::weighted_row_sum(rows.data(), w, m, G, out);
  } else {
    acc.assign(G, A(0));
    for (int64_t j = 0; j < K; ++j) {
      if (used(idx, keep, j)) add_scaled(w[j], bank + idx[j] * G, acc.data(), G);
    }
    for (int64_t g = 0; g < G; ++g) out[g] = static_cast<S>(acc[g]);
  }
}

std::tuple<at::Tensor, at::Tensor> soft_labels_cpu(const at::Tensor& index, const at::Tensor& scores,
                                                   const std::optional<at::Tensor>& keep,
                                                   const at::Tensor& bank_values, c10::string_view weighting,
                                                   double temperature) {
  check_args(index, scores, keep, bank_values, temperature);
  const Weighting mode = parse_weighting(weighting);
  const Inputs in = prepare(index, scores, keep, bank_values);
  at::Tensor soft = at::empty({in.Q, in.G}, bank_values.options());
  at::Tensor conf = at::empty({in.Q}, scores.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scores.scalar_type(), "soft_labels", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const int64_t* ip = in.index.const_data_ptr<int64_t>();
    const scalar_t* sp = in.scores.const_data_ptr<scalar_t>();
    const bool* kp = in.keep.defined() ? in.keep.const_data_ptr<bool>() : nullptr;
    const scalar_t* bp = in.bank.const_data_ptr<scalar_t>();
    scalar_t* op = soft.mutable_data_ptr<scalar_t>();
    scalar_t* cp = conf.mutable_data_ptr<scalar_t>();
    const acc_t inv_temp = static_cast<acc_t>(1.0 / temperature);
    at::parallel_for(0, in.Q, 8, [&](int64_t b, int64_t e) {
      std::vector<acc_t> w(in.K), row;
      std::vector<const scalar_t*> used_rows(in.K);
      for (int64_t q = b; q < e; ++q) {
        const int64_t* iq = ip + q * in.K;
        const bool* kq = kp ? kp + q * in.K : nullptr;
        acc_t c;
        row_weights<acc_t, scalar_t>(iq, sp + q * in.K, kq, in.K, mode, inv_temp, w.data(), &c);
        cp[q] = static_cast<scalar_t>(c);
        weighted_neighbour_sum(iq, kq, in.K, w.data(), bp, in.G, op + q * in.G, used_rows, row);
      }
    });
  });
  return {soft, conf};
}

std::tuple<at::Tensor, at::Tensor> soft_labels_backward_cpu(const at::Tensor& grad_soft, const at::Tensor& grad_conf,
                                                            const at::Tensor& index, const at::Tensor& scores,
                                                            const std::optional<at::Tensor>& keep,
                                                            const at::Tensor& bank_values, c10::string_view weighting,
                                                            double temperature, std::array<bool, 2> output_mask) {
  check_args(index, scores, keep, bank_values, temperature);
  const Weighting mode = parse_weighting(weighting);
  const Inputs in = prepare(index, scores, keep, bank_values);
  TORCH_CHECK(grad_soft.sizes() == at::IntArrayRef({in.Q, in.G}), "_soft_labels_backward: grad_soft must be [Q, G]");
  TORCH_CHECK(grad_conf.sizes() == at::IntArrayRef({in.Q}), "_soft_labels_backward: grad_confidence must be [Q]");
  const at::Tensor gs = grad_soft.to(bank_values.scalar_type()).contiguous();
  const at::Tensor gc = grad_conf.to(scores.scalar_type()).contiguous();
  at::Tensor grad_scores = output_mask[0] ? at::zeros_like(in.scores) : at::empty({0}, scores.options());
  at::Tensor grad_bank = at::empty({0}, bank_values.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scores.scalar_type(), "soft_labels_backward", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const int64_t* ip = in.index.const_data_ptr<int64_t>();
    const scalar_t* sp = in.scores.const_data_ptr<scalar_t>();
    const bool* kp = in.keep.defined() ? in.keep.const_data_ptr<bool>() : nullptr;
    const scalar_t* bp = in.bank.const_data_ptr<scalar_t>();
    const scalar_t* gsp = gs.const_data_ptr<scalar_t>();
    const scalar_t* gcp = gc.const_data_ptr<scalar_t>();
    const acc_t inv_temp = static_cast<acc_t>(1.0 / temperature);
    // Weights of every row, kept for the bank gradient (Q*k values).
    std::vector<acc_t> weights(static_cast<size_t>(in.Q * in.K));
    at::parallel_for(0, in.Q, 8, [&](int64_t b, int64_t e) {
      std::vector<acc_t> gw(in.K), gsc(in.K);
      for (int64_t q = b; q < e; ++q) {
        const int64_t* iq = ip + q * in.K;
        const bool* kq = kp ? kp + q * in.K : nullptr;
        acc_t* w = weights.data() + q * in.K;
        acc_t c;
        const acc_t denom = row_weights<acc_t, scalar_t>(iq, sp + q * in.K, kq, in.K, mode, inv_temp, w, &c);
        if (!output_mask[0]) continue;
        const scalar_t* g_row = gsp + q * in.G;
        for (int64_t j = 0; j < in.K; ++j) {
          acc_t dot = 0;
          if (used(iq, kq, j)) {
            const scalar_t* src = bp + iq[j] * in.G;
            dot = dot_in<acc_t>(g_row, src, in.G);
          }
          gw[j] = dot;
        }
        row_weights_backward<acc_t, scalar_t>(iq, sp + q * in.K, kq, in.K, mode, inv_temp, w, denom, gw.data(),
                                              static_cast<acc_t>(gcp[q]), gsc.data());
        scalar_t* out = grad_scores.mutable_data_ptr<scalar_t>() + q * in.K;
        for (int64_t j = 0; j < in.K; ++j) out[j] = static_cast<scalar_t>(gsc[j]);
      }
    });
    if (output_mask[1]) {
      // Accumulate in acc_t, one block of gene columns per thread: no two threads touch a column.
      at::Tensor acc = at::zeros({in.N, in.G}, bank_values.options().dtype(c10::CppTypeToScalarType<acc_t>::value));
      acc_t* ap = acc.mutable_data_ptr<acc_t>();
      at::parallel_for(0, in.G, 16, [&](int64_t g0, int64_t g1) {
        for (int64_t q = 0; q < in.Q; ++q) {
          const int64_t* iq = ip + q * in.K;
          const bool* kq = kp ? kp + q * in.K : nullptr;
          const scalar_t* g_row = gsp + q * in.G;
          for (int64_t j = 0; j < in.K; ++j) {
            if (!used(iq, kq, j)) continue;
            const acc_t wj = weights[q * in.K + j];
            acc_t* dst = ap + iq[j] * in.G;
            add_scaled(wj, g_row + g0, dst + g0, g1 - g0);
          }
        }
      });
      grad_bank = acc.scalar_type() == bank_values.scalar_type() ? acc : acc.to(bank_values.scalar_type());
    }
  });
  return {grad_scores, grad_bank};
}

}  // namespace
}  // namespace stx::ops::soft

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("soft_labels", &stx::ops::soft::soft_labels_cpu);
  m.impl("_soft_labels_backward", &stx::ops::soft::soft_labels_backward_cpu);
}

// CUDA kernels of soft_labels: per-row weights (one thread per row, ops/soft_labels_common.h),
// a weighted gather-sum (one thread per output element), and a backward whose score gradient
// uses one warp per (row, neighbour) dot product. The bank gradient is accumulated with ATen's
// index_put_(accumulate=True), which is deterministic on CUDA (sort-based), so no atomics here.
#include <array>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/soft_labels_common.h"

namespace stx::ops::soft {
namespace {

constexpr int kThreads = 256;

unsigned blocks_for(int64_t n) { return static_cast<unsigned>((n + kThreads - 1) / kThreads); }

template <typename scalar_t, typename acc_t>
__global__ void weights_kernel(const int64_t* __restrict__ index, const scalar_t* __restrict__ scores,
                               const bool* __restrict__ keep, int64_t Q, int64_t k, Weighting mode, acc_t inv_temp,
                               acc_t* __restrict__ w, acc_t* __restrict__ conf, acc_t* __restrict__ denom) {
  const int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (q >= Q) return;
  acc_t c;
  const acc_t d = row_weights<acc_t, scalar_t>(index + q * k, scores + q * k, keep ? keep + q * k : nullptr, k, mode,
                                               inv_temp, w + q * k, &c);
  conf[q] = c;
  if (denom) denom[q] = d;
}

template <typename scalar_t, typename acc_t>
__global__ void gather_sum_kernel(const int64_t* __restrict__ index, const acc_t* __restrict__ w,
                                  const scalar_t* __restrict__ bank, int64_t Q, int64_t k, int64_t G,
                                  scalar_t* __restrict__ out) {
  const int64_t e = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (e >= Q * G) return;
  const int64_t q = e / G, g = e % G;
  acc_t acc = 0;
  for (int64_t j = 0; j < k; ++j) {
    const acc_t wj = w[q * k + j];
    if (wj != acc_t(0)) acc += wj * static_cast<acc_t>(bank[index[q * k + j] * G + g]);
  }
  out[e] = static_cast<scalar_t>(acc);
}

// gw[q, j] = <grad_soft[q], bank[index[q, j]]> for neighbours with a non-zero weight or any
// valid neighbour (softmax/similarity need gw of every used neighbour): one warp per (q, j).
template <typename scalar_t, typename acc_t>
__global__ void neighbour_dot_kernel(const int64_t* __restrict__ index, const scalar_t* __restrict__ grad_soft,
                                     const scalar_t* __restrict__ bank, int64_t Q, int64_t k, int64_t G,
                                     acc_t* __restrict__ gw) {
  const int64_t warp = (blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (warp >= Q * k) return;
  const int64_t q = warp / k;
  const int64_t n = index[warp];
  acc_t acc = 0;
  if (n >= 0) {
    for (int64_t g = lane; g < G; g += 32) {
      acc += static_cast<acc_t>(grad_soft[q * G + g]) * static_cast<acc_t>(bank[n * G + g]);
    }
  }
  for (int off = 16; off > 0; off /= 2) acc += __shfl_down_sync(0xffffffffu, acc, off);
  if (lane == 0) gw[warp] = acc;
}

template <typename scalar_t, typename acc_t>
__global__ void scores_grad_kernel(const int64_t* __restrict__ index, const scalar_t* __restrict__ scores,
                                   const bool* __restrict__ keep, int64_t Q, int64_t k, Weighting mode,
                                   acc_t inv_temp, const acc_t* __restrict__ w, const acc_t* __restrict__ denom,
                                   const acc_t* __restrict__ gw, const scalar_t* __restrict__ grad_conf,
                                   acc_t* __restrict__ scratch, scalar_t* __restrict__ grad_scores) {
  const int64_t q = blockIdx.x * static_cast<int64_t>(blockDim.x) + threadIdx.x;
  if (q >= Q) return;
  acc_t* gs = scratch + q * k;
  row_weights_backward<acc_t, scalar_t>(index + q * k, scores + q * k, keep ? keep + q * k : nullptr, k, mode,
                                        inv_temp, w + q * k, denom[q], gw + q * k,
                                        static_cast<acc_t>(grad_conf[q]), gs);
  for (int64_t j = 0; j < k; ++j) grad_scores[q * k + j] = static_cast<scalar_t>(gs[j]);
}

struct Prepared {
  at::Tensor index, scores, keep, bank;
  int64_t Q, k, N, G;
};

Prepared prepare(const at::Tensor& index, const at::Tensor& scores, const std::optional<at::Tensor>& keep,
                 const at::Tensor& bank_values) {
  return {index.contiguous(), scores.contiguous(), keep.has_value() ? keep->contiguous() : at::Tensor(),
          bank_values.contiguous(), index.size(0), index.size(1), bank_values.size(0), bank_values.size(1)};
}

std::tuple<at::Tensor, at::Tensor> soft_labels_cuda(const at::Tensor& index, const at::Tensor& scores,
                                                    const std::optional<at::Tensor>& keep,
                                                    const at::Tensor& bank_values, c10::string_view weighting,
                                                    double temperature) {
  check_args(index, scores, keep, bank_values, temperature);
  const Weighting mode = parse_weighting(weighting);
  c10::cuda::CUDAGuard guard(index.device());
  const Prepared in = prepare(index, scores, keep, bank_values);
  at::Tensor soft = at::empty({in.Q, in.G}, bank_values.options());
  at::Tensor conf = at::empty({in.Q}, scores.options());
  if (in.Q == 0) return {soft, conf};
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scores.scalar_type(), "soft_labels_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto acc_opts = scores.options().dtype(c10::CppTypeToScalarType<acc_t>::value);
    at::Tensor w = at::empty({in.Q, in.k}, acc_opts);
    at::Tensor c = at::empty({in.Q}, acc_opts);
    const bool* kp = in.keep.defined() ? in.keep.const_data_ptr<bool>() : nullptr;
    weights_kernel<scalar_t, acc_t><<<blocks_for(in.Q), kThreads, 0, stream>>>(
        in.index.const_data_ptr<int64_t>(), in.scores.const_data_ptr<scalar_t>(), kp, in.Q, in.k, mode,
        static_cast<acc_t>(1.0 / temperature), w.mutable_data_ptr<acc_t>(), c.mutable_data_ptr<acc_t>(), nullptr);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (in.G > 0) {
      gather_sum_kernel<scalar_t, acc_t><<<blocks_for(in.Q * in.G), kThreads, 0, stream>>>(
          in.index.const_data_ptr<int64_t>(), w.const_data_ptr<acc_t>(), in.bank.const_data_ptr<scalar_t>(), in.Q,
          in.k, in.G, soft.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    conf.copy_(c);
  });
  return {soft, conf};
}

std::tuple<at::Tensor, at::Tensor> soft_labels_backward_cuda(const at::Tensor& grad_soft, const at::Tensor& grad_conf,
                                                             const at::Tensor& index, const at::Tensor& scores,
                                                             const std::optional<at::Tensor>& keep,
                                                             const at::Tensor& bank_values,
                                                             c10::string_view weighting, double temperature,
                                                             std::array<bool, 2> output_mask) {
  check_args(index, scores, keep, bank_values, temperature);
  const Weighting mode = parse_weighting(weighting);
  c10::cuda::CUDAGuard guard(index.device());
  const Prepared in = prepare(index, scores, keep, bank_values);
  const at::Tensor gs = grad_soft.to(bank_values.scalar_type()).contiguous();
  const at::Tensor gc = grad_conf.to(scores.scalar_type()).contiguous();
  at::Tensor grad_scores = output_mask[0] ? at::zeros_like(in.scores) : at::empty({0}, scores.options());
  at::Tensor grad_bank = at::empty({0}, bank_values.options());
  if (in.Q == 0 || in.k == 0) {
    if (output_mask[1]) grad_bank = at::zeros_like(in.bank);
    return {grad_scores, grad_bank};
  }
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, in.scores.scalar_type(), "soft_labels_backward_cuda", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const auto acc_opts = scores.options().dtype(c10::CppTypeToScalarType<acc_t>::value);
    at::Tensor w = at::empty({in.Q, in.k}, acc_opts);
    at::Tensor c = at::empty({in.Q}, acc_opts);
    at::Tensor denom = at::empty({in.Q}, acc_opts);
    const bool* kp = in.keep.defined() ? in.keep.const_data_ptr<bool>() : nullptr;
    const acc_t inv_temp = static_cast<acc_t>(1.0 / temperature);
    weights_kernel<scalar_t, acc_t><<<blocks_for(in.Q), kThreads, 0, stream>>>(
        in.index.const_data_ptr<int64_t>(), in.scores.const_data_ptr<scalar_t>(), kp, in.Q, in.k, mode, inv_temp,
        w.mutable_data_ptr<acc_t>(), c.mutable_data_ptr<acc_t>(), denom.mutable_data_ptr<acc_t>());
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    if (output_mask[0]) {
      at::Tensor gw = at::empty({in.Q, in.k}, acc_opts);
      neighbour_dot_kernel<scalar_t, acc_t><<<blocks_for(in.Q * in.k * 32), kThreads, 0, stream>>>(
          in.index.const_data_ptr<int64_t>(), gs.const_data_ptr<scalar_t>(), in.bank.const_data_ptr<scalar_t>(), in.Q,
          in.k, in.G, gw.mutable_data_ptr<acc_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
      at::Tensor scratch = at::empty({in.Q, in.k}, acc_opts);
      scores_grad_kernel<scalar_t, acc_t><<<blocks_for(in.Q), kThreads, 0, stream>>>(
          in.index.const_data_ptr<int64_t>(), in.scores.const_data_ptr<scalar_t>(), kp, in.Q, in.k, mode, inv_temp,
          w.const_data_ptr<acc_t>(), denom.const_data_ptr<acc_t>(), gw.const_data_ptr<acc_t>(),
          gc.const_data_ptr<scalar_t>(), scratch.mutable_data_ptr<acc_t>(), grad_scores.mutable_data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    if (output_mask[1]) {
      // Unused neighbours have weight 0, so clamping their index to 0 adds nothing.
      const at::Tensor rows = in.index.clamp_min(0).reshape({-1});
      const at::Tensor contrib = (w.unsqueeze(-1) * gs.to(acc_opts.dtype()).unsqueeze(1)).reshape({-1, in.G});
      at::Tensor acc = at::zeros({in.N, in.G}, acc_opts);
      acc.index_put_({rows}, contrib, /*accumulate=*/true);
      grad_bank = acc.to(bank_values.scalar_type());
    }
  });
  return {grad_scores, grad_bank};
}

}  // namespace
}  // namespace stx::ops::soft

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("soft_labels", &stx::ops::soft::soft_labels_cuda);
  m.impl("_soft_labels_backward", &stx::ops::soft::soft_labels_backward_cuda);
}

// CUDA kernels of label_pool / _label_pool_backward.
//   forward:  pixels are grouped by (image, label) with a stable sort of the keys (no atomics, so
//             the result is deterministic); a warp per label sums its pixels (NCHW: lanes over
//             pixels; NHWC: lanes over channels).
//   backward: an elementwise gather of the (normalised) grad by label.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/arange.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/searchsorted.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>

#include "ops/label_pool_common.h"

namespace stx::ops {
namespace {

constexpr int kThreads = 256;
constexpr int kWarps = kThreads / 32;

template <typename A>
__device__ A scale_of(const int64_t* count, int64_t idx, bool mean) {
  if (!mean) return A(1);
  const int64_t n = count[idx];
  return n > 0 ? A(1) / static_cast<A>(n) : A(0);
}

// One warp per (image, label) segment of the sorted pixel list.
template <typename T, typename A>
__global__ void label_pool_kernel(const T* __restrict__ dense, const int64_t* __restrict__ pixels,
                                  const int64_t* __restrict__ offsets, const int64_t* __restrict__ count,
                                  int64_t segments, int64_t K, int64_t G, int64_t HW, bool nhwc, bool mean,
                                  T* __restrict__ out) {
  const int lane = threadIdx.x & 31;
  const int64_t seg = static_cast<int64_t>(blockIdx.x) * kWarps + (threadIdx.x >> 5);
  if (seg >= segments) return;  // whole warps exit together
  const int64_t begin = offsets[seg], end = begin + count[seg];
  const int64_t b = seg / K;
  const A scale = scale_of<A>(count, seg, mean);
  if (nhwc) {
    // pixels[] holds b * HW + p, and the channels of that pixel are contiguous.
    for (int64_t ch = lane; ch < G; ch += 32) {
      A acc = 0;
      for (int64_t t = begin; t < end; ++t) acc += static_cast<A>(dense[pixels[t] * G + ch]);
      out[seg * G + ch] = static_cast<T>(acc * scale);
    }
  } else {
    for (int64_t ch = 0; ch < G; ++ch) {
      const T* plane = dense + (b * G + ch) * HW;
      A acc = 0;
      for (int64_t t = begin + lane; t < end; t += 32) acc += static_cast<A>(plane[pixels[t] - b * HW]);
      for (int offset = 16; offset > 0; offset >>= 1) acc += __shfl_down_sync(0xffffffffu, acc, offset);
      if (lane == 0) out[seg * G + ch] = static_cast<T>(acc * scale);
    }
  }
}

template <typename T, typename I>
__global__ void label_unpool_kernel(const T* __restrict__ grad, const I* __restrict__ labels,
                                    const int64_t* __restrict__ count, int64_t total, int64_t K, int64_t G,
                                    int64_t HW, int64_t ignore, bool mean, T* __restrict__ out) {
  using A = at::opmath_type<T>;
  for (int64_t idx = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; idx < total;
       idx += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t p = idx % HW, bg = idx / HW, ch = bg % G, b = bg / G;
    const int64_t l = labels[b * HW + p];
    if (l == ignore) {
      out[idx] = T(0);
    } else {
      const int64_t key = b * K + l;
      out[idx] = static_cast<T>(static_cast<A>(grad[key * G + ch]) * scale_of<A>(count, key, mean));
    }
  }
}

unsigned blocks_for(int64_t work, int64_t per_block) {
  return static_cast<unsigned>(std::max<int64_t>(1, std::min<int64_t>((work + per_block - 1) / per_block, 1 << 20)));
}

std::tuple<at::Tensor, at::Tensor> label_pool_cuda(const at::Tensor& dense, const at::Tensor& labels,
                                                   int64_t num_labels, c10::string_view reduce, int64_t ignore_index) {
  const bool mean = detail::parse_label_reduce(reduce);
  detail::check_label_pool_inputs(dense, labels, num_labels, ignore_index);
  const c10::cuda::CUDAGuard guard(dense.device());
  const int64_t B = dense.size(0), G = dense.size(1), HW = dense.size(2) * dense.size(3), K = num_labels;
  at::Tensor out = at::empty({B, K, G}, dense.options());
  const auto long_opts = dense.options().dtype(at::kLong);
  if (labels.numel() == 0 || K == 0) {
    return {out.zero_(), at::zeros({B, K}, long_opts)};
  }
  // key = b * K + label; ignored pixels go to the extra key B * K (sorted last, never read).
  const at::Tensor lab = labels.reshape({B, HW}).to(at::kLong);
  at::Tensor key = lab.add(at::arange(B, long_opts).mul(K).unsqueeze(1));
  key = key.masked_fill(lab.eq(ignore_index), B * K).reshape({-1});
  auto [sorted_keys, order] = key.sort(/*stable=*/true, /*dim=*/0, /*descending=*/false);
  const at::Tensor pixels = order.contiguous();
  // Segment starts by binary search in the sorted keys (deterministic, unlike atomic counting).
  const at::Tensor bounds = at::searchsorted(sorted_keys, at::arange(B * K + 1, long_opts));
  const at::Tensor offsets = bounds.narrow(0, 0, B * K).contiguous();
  at::Tensor count = bounds.narrow(0, 1, B * K).sub(offsets).contiguous();
  if (G > 0) {
    const bool nhwc = !dense.is_contiguous() && dense.is_contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor map = nhwc ? dense : dense.contiguous();
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dense.scalar_type(), "stx_label_pool_cuda", [&] {
      using A = at::opmath_type<scalar_t>;
      label_pool_kernel<scalar_t, A><<<blocks_for(B * K, kWarps), kThreads, 0, stream>>>(
          map.const_data_ptr<scalar_t>(), pixels.const_data_ptr<int64_t>(), offsets.const_data_ptr<int64_t>(),
          count.const_data_ptr<int64_t>(), B * K, K, G, HW, nhwc, mean, out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  return {out, count.view({B, K})};
}

at::Tensor label_pool_backward_cuda(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                    c10::string_view reduce, int64_t ignore_index) {
  const bool mean = detail::parse_label_reduce(reduce);
  detail::check_label_pool_backward_inputs(grad, labels, count, ignore_index);
  const c10::cuda::CUDAGuard guard(grad.device());
  const int64_t B = grad.size(0), K = grad.size(1), G = grad.size(2), HW = labels.size(1) * labels.size(2);
  at::Tensor out = at::empty({B, G, labels.size(1), labels.size(2)}, grad.options());
  if (out.numel() == 0) return out;
  const at::Tensor g = grad.contiguous(), lab = labels.contiguous(), cnt = count.contiguous();
  auto stream = at::cuda::getCurrentCUDAStream();
  AT_DISPATCH_INDEX_TYPES(lab.scalar_type(), "stx_label_pool_backward_cuda", [&] {
    using I = index_t;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, grad.scalar_type(), "stx_label_pool_backward_cuda", [&] {
      label_unpool_kernel<scalar_t, I><<<blocks_for(out.numel(), kThreads), kThreads, 0, stream>>>(
          g.const_data_ptr<scalar_t>(), lab.const_data_ptr<I>(), cnt.const_data_ptr<int64_t>(), out.numel(), K, G, HW,
          ignore_index, mean, out.data_ptr<scalar_t>());
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  });
  return out;
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("label_pool", &stx::ops::label_pool_cuda);
  m.impl("_label_pool_backward", &stx::ops::label_pool_backward_cuda);
}

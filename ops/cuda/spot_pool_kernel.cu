// CUDA kernels of spot_pool / spot_splat. The geometry (row segments per ring) is built on the
// host by ops/spot_pool_geometry.cpp (the centers/radii are copied to the host anyway for the
// batch-index and NaN checks) and uploaded; the kernels only sum / paint row segments.
//   pool, NCHW:  block per (spot, channel); warps take row segments, lanes read a row coalesced;
//                block reduction per ring.
//   pool, NHWC:  block per (spot, 128-channel chunk); threads own channels (coalesced).
//   splat:       atomicAdd path, block per (spot, channel); deterministic path (under
//                torch.use_deterministic_algorithms) with a block per output plane that paints the
//                plane's spots one after another.
#include <ATen/Context.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/core/Tensor.h>
#include <ATen/cuda/CUDAContext.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/from_blob.h>
#include <ATen/ops/zeros.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "ops/spot_pool_common.h"

namespace stx::ops {
namespace {

using detail::SpotGeometry;

constexpr int kThreads = 256;
constexpr int kChannelChunk = 128;
constexpr int64_t kMaxGridY = 65535;

// The geometry on the device (raw pointers stay valid while the tensors live).
struct DeviceGeometry {
  at::Tensor ring_begin, seg_row, seg_col0, seg_col1, seg_weight, weights, spot_batch, batch_begin, batch_spots;

  template <typename V>
  static at::Tensor upload(const std::vector<V>& v, c10::ScalarType dtype, c10::Device device) {
    if (v.empty()) return at::empty({0}, at::TensorOptions().dtype(dtype).device(device));
    return at::from_blob(const_cast<V*>(v.data()), {static_cast<int64_t>(v.size())}, at::TensorOptions().dtype(dtype))
        .to(device, dtype, /*non_blocking=*/false, /*copy=*/true);
  }

  DeviceGeometry(const SpotGeometry& g, c10::Device device)
      : ring_begin(upload(g.ring_begin, at::kLong, device)),
        seg_row(upload(g.seg_row, at::kInt, device)),
        seg_col0(upload(g.seg_col0, at::kInt, device)),
        seg_col1(upload(g.seg_col1, at::kInt, device)),
        seg_weight(upload(g.seg_weight, at::kLong, device)),
        weights(upload(g.weights, at::kDouble, device)),
        spot_batch(upload(g.spot_batch, at::kLong, device)),
        batch_begin(upload(g.batch_begin, at::kLong, device)),
        batch_spots(upload(g.batch_spots, at::kLong, device)) {}
};

// Kernel-side view of the segments.
struct Segments {
  const int64_t* ring_begin;
  const int32_t* row;
  const int32_t* col0;
  const int32_t* col1;
  const int64_t* weight_offset;  // nullptr for hard shapes
  const double* weights;
  const int64_t* spot_batch;

  static Segments of(const DeviceGeometry& d, bool weighted) {
    return {d.ring_begin.const_data_ptr<int64_t>(), d.seg_row.const_data_ptr<int32_t>(),
            d.seg_col0.const_data_ptr<int32_t>(),   d.seg_col1.const_data_ptr<int32_t>(),
            weighted ? d.seg_weight.const_data_ptr<int64_t>() : nullptr,
            weighted ? d.weights.const_data_ptr<double>() : nullptr,
            d.spot_batch.const_data_ptr<int64_t>()};
  }
};

// Sum over the block; the result is valid in thread 0. Ends with a barrier so `shared` can be reused.
template <typename A>
__device__ A block_sum(A v, A* shared) {
  for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5;
  if (lane == 0) shared[warp] = v;
  __syncthreads();
  v = threadIdx.x < (blockDim.x >> 5) ? shared[lane] : A(0);
  if (warp == 0) {
    for (int offset = 16; offset > 0; offset >>= 1) v += __shfl_down_sync(0xffffffffu, v, offset);
  }
  __syncthreads();
  return v;
}

template <typename T, typename A>
__global__ void pool_rings_nchw_kernel(const T* __restrict__ dense, Segments sg, int64_t S, int64_t G, int64_t H,
                                       int64_t W, A* __restrict__ rings) {
  __shared__ A shared[32];
  const int64_t n = blockIdx.x;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t ch = blockIdx.y; ch < G; ch += gridDim.y) {
    const T* plane = dense + (sg.spot_batch[n] * G + ch) * H * W;
    for (int64_t k = 0; k < S; ++k) {
      A acc = 0;
      for (int64_t s = sg.ring_begin[n * S + k] + warp; s < sg.ring_begin[n * S + k + 1]; s += warps) {
        const T* p = plane + static_cast<int64_t>(sg.row[s]) * W;
        const int32_t c0 = sg.col0[s], c1 = sg.col1[s];
        if (sg.weight_offset != nullptr) {
          const double* w = sg.weights + sg.weight_offset[s] - c0;
          for (int32_t j = c0 + lane; j < c1; j += 32) acc += static_cast<A>(p[j]) * static_cast<A>(w[j]);
        } else {
          for (int32_t j = c0 + lane; j < c1; j += 32) acc += static_cast<A>(p[j]);
        }
      }
      acc = block_sum(acc, shared);
      if (threadIdx.x == 0) rings[(n * S + k) * G + ch] = acc;
    }
  }
}

template <typename T, typename A>
__global__ void pool_rings_nhwc_kernel(const T* __restrict__ dense, Segments sg, int64_t S, int64_t G, int64_t H,
                                       int64_t W, A* __restrict__ rings) {
  const int64_t n = blockIdx.x;
  for (int64_t ch = blockIdx.y * static_cast<int64_t>(blockDim.x) + threadIdx.x; ch < G;
       ch += static_cast<int64_t>(gridDim.y) * blockDim.x) {
    const T* image = dense + sg.spot_batch[n] * H * W * G + ch;
    for (int64_t k = 0; k < S; ++k) {
      A acc = 0;
      for (int64_t s = sg.ring_begin[n * S + k]; s < sg.ring_begin[n * S + k + 1]; ++s) {
        const T* row = image + static_cast<int64_t>(sg.row[s]) * W * G;
        for (int32_t j = sg.col0[s]; j < sg.col1[s]; ++j) {
          const A w = sg.weight_offset != nullptr ? static_cast<A>(sg.weights[sg.weight_offset[s] + (j - sg.col0[s])])
                                                  : A(1);
          acc += w * static_cast<A>(row[static_cast<int64_t>(j) * G]);
        }
      }
      rings[(n * S + k) * G + ch] = acc;
    }
  }
}

// Adds c * weight to every pixel of ring (n, k) in `plane`; warps take segments, lanes columns.
template <typename A, bool kAtomic>
__device__ void paint_ring(A* plane, const Segments& sg, int64_t ring, A c, int64_t W) {
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, warps = blockDim.x >> 5;
  for (int64_t s = sg.ring_begin[ring] + warp; s < sg.ring_begin[ring + 1]; s += warps) {
    A* p = plane + static_cast<int64_t>(sg.row[s]) * W;
    const int32_t c0 = sg.col0[s], c1 = sg.col1[s];
    for (int32_t j = c0 + lane; j < c1; j += 32) {
      const A v = sg.weight_offset != nullptr ? c * static_cast<A>(sg.weights[sg.weight_offset[s] + (j - c0)]) : c;
      if constexpr (kAtomic) {
        atomicAdd(p + j, v);
      } else {
        p[j] += v;
      }
    }
  }
}

template <typename A>
__global__ void splat_atomic_kernel(const A* __restrict__ coef, Segments sg, int64_t S, int64_t G, int64_t H,
                                    int64_t W, A* __restrict__ out) {
  const int64_t n = blockIdx.x;
  for (int64_t ch = blockIdx.y; ch < G; ch += gridDim.y) {
    A* plane = out + (sg.spot_batch[n] * G + ch) * H * W;
    for (int64_t k = 0; k < S; ++k) {
      const A c = coef[(n * S + k) * G + ch];
      if (c != A(0)) paint_ring<A, true>(plane, sg, n * S + k, c, W);
    }
  }
}

template <typename A>
__global__ void splat_planes_kernel(const A* __restrict__ coef, Segments sg, const int64_t* __restrict__ batch_begin,
                                    const int64_t* __restrict__ batch_spots, int64_t B, int64_t S, int64_t G,
                                    int64_t H, int64_t W, A* __restrict__ out) {
  for (int64_t plane = blockIdx.x; plane < B * G; plane += gridDim.x) {
    const int64_t b = plane / G, ch = plane % G;
    A* dst = out + plane * H * W;
    for (int64_t idx = batch_begin[b]; idx < batch_begin[b + 1]; ++idx) {
      const int64_t n = batch_spots[idx];
      for (int64_t k = 0; k < S; ++k) {
        const A c = coef[(n * S + k) * G + ch];  // uniform over the block
        // The pixels of one ring are distinct; rings (and spots) may overlap, hence the barrier.
        if (c != A(0)) paint_ring<A, false>(dst, sg, n * S + k, c, W);
        __syncthreads();
      }
    }
  }
}

std::tuple<at::Tensor, at::Tensor> spot_pool_cuda(const at::Tensor& dense, const at::Tensor& centers,
                                                  const at::Tensor& radii, c10::string_view shape,
                                                  c10::string_view reduce, double sigma) {
  detail::check_dense_map(dense, "dense");
  detail::check_same_device(dense, "dense", centers, "centers");
  detail::check_same_device(dense, "dense", radii, "radii");
  const c10::cuda::CUDAGuard guard(dense.device());
  const int64_t B = dense.size(0), G = dense.size(1), H = dense.size(2), W = dense.size(3);
  const SpotGeometry g = detail::build_spot_geometry(centers, radii, B, H, W, shape, reduce, sigma);
  const int64_t N = g.num_spots, S = g.num_scales;
  const c10::ScalarType acc = detail::spot_acc_dtype(dense.scalar_type());
  at::Tensor rings = at::zeros({N, S, G}, dense.options().dtype(acc));
  if (N > 0 && G > 0 && g.num_segments() > 0) {
    const DeviceGeometry dg(g, dense.device());
    const Segments sg = Segments::of(dg, g.weighted());
    const bool nhwc = !dense.is_contiguous() && dense.is_contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor map = nhwc ? dense : dense.contiguous();
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dense.scalar_type(), "stx_spot_pool_cuda", [&] {
      using A = at::opmath_type<scalar_t>;
      if (nhwc) {
        const dim3 grid(static_cast<unsigned>(N),
                        static_cast<unsigned>(std::min<int64_t>((G + kChannelChunk - 1) / kChannelChunk, kMaxGridY)));
        pool_rings_nhwc_kernel<scalar_t, A><<<grid, kChannelChunk, 0, stream>>>(
            map.const_data_ptr<scalar_t>(), sg, S, G, H, W, rings.data_ptr<A>());
      } else {
        const dim3 grid(static_cast<unsigned>(N), static_cast<unsigned>(std::min<int64_t>(G, kMaxGridY)));
        pool_rings_nchw_kernel<scalar_t, A><<<grid, kThreads, 0, stream>>>(map.const_data_ptr<scalar_t>(), sg, S, G,
                                                                            H, W, rings.data_ptr<A>());
      }
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  at::Tensor out = detail::rings_to_scales(g, rings, dense.scalar_type()).view(detail::spot_output_shape(radii, G));
  return {out, detail::coverage_tensor(g, radii, dense.scalar_type(), dense.device())};
}

at::Tensor spot_splat_cuda(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii,
                           int64_t batch_size, int64_t height, int64_t width, c10::string_view shape,
                           c10::string_view reduce, double sigma) {
  detail::check_spot_values(values, centers, radii);
  const c10::cuda::CUDAGuard guard(values.device());
  const SpotGeometry g = detail::build_spot_geometry(centers, radii, batch_size, height, width, shape, reduce, sigma);
  const int64_t G = values.size(-1), N = g.num_spots, S = g.num_scales;
  const c10::ScalarType acc = detail::spot_acc_dtype(values.scalar_type());
  // Accumulate in the acc dtype (float for bfloat16/float16), convert once at the end.
  at::Tensor out = at::zeros({batch_size, G, height, width}, values.options().dtype(acc));
  if (out.numel() > 0 && N > 0 && g.num_segments() > 0) {
    const at::Tensor coef = detail::ring_coefficients(g, values.reshape({N, S, G}));
    const DeviceGeometry dg(g, values.device());
    const Segments sg = Segments::of(dg, g.weighted());
    const bool deterministic = at::globalContext().deterministicAlgorithms();
    if (!deterministic) {
      at::globalContext().alertNotDeterministic("stx::spot_splat (CUDA atomicAdd path)");
    }
    auto stream = at::cuda::getCurrentCUDAStream();
    AT_DISPATCH_FLOATING_TYPES(acc, "stx_spot_splat_cuda", [&] {
      if (deterministic) {
        const int64_t planes = batch_size * G;
        splat_planes_kernel<scalar_t><<<static_cast<unsigned>(std::min<int64_t>(planes, 1 << 20)), kThreads, 0,
                                        stream>>>(coef.const_data_ptr<scalar_t>(), sg,
                                                  dg.batch_begin.const_data_ptr<int64_t>(),
                                                  dg.batch_spots.const_data_ptr<int64_t>(), batch_size, S, G, height,
                                                  width, out.data_ptr<scalar_t>());
      } else {
        const dim3 grid(static_cast<unsigned>(N), static_cast<unsigned>(std::min<int64_t>(G, kMaxGridY)));
        splat_atomic_kernel<scalar_t><<<grid, kThreads, 0, stream>>>(coef.const_data_ptr<scalar_t>(), sg, S, G,
                                                                     height, width, out.data_ptr<scalar_t>());
      }
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    });
  }
  return out.scalar_type() == values.scalar_type() ? out : out.to(values.scalar_type());
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("spot_pool", &stx::ops::spot_pool_cuda);
  m.impl("spot_splat", &stx::ops::spot_splat_cuda);
}

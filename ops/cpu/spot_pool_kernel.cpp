// CPU kernels of spot_pool / spot_splat. The geometry (row segments per ring) comes from
// ops/spot_pool_geometry.cpp; here we only sum / paint row segments.
//   pool, NCHW map:  parallel over planes (b, g); segments read in row order (one forward stream).
//   pool, NHWC map:  parallel over (spot, channel block); per pixel, a contiguous channel vector.
//   splat:           parallel over output planes (b, g), row by row: conflict-free, deterministic,
//                    each output row written once.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/cpu/vec/vec.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>
#include <type_traits>
#include <vector>

#include "ops/spot_pool_common.h"

namespace stx::ops {
namespace {

using detail::SpotGeometry;

// The segments of each batch image in (row, column) order with the ring each belongs to, so a
// plane is read or written front to back: the hardware prefetchers see one forward stream per
// plane and each page is visited once, instead of one short span per page per spot.
struct RowOrder {
  std::vector<int64_t> seg;          // segment ids, grouped by batch image, then by (row, col0)
  std::vector<int64_t> ring;         // ring id (n * S + k) of each entry of seg
  std::vector<int64_t> batch_begin;  // entries of image b: [batch_begin[b], batch_begin[b + 1])
};

RowOrder row_order(const SpotGeometry& g) {
  const int64_t R = g.num_spots * g.num_scales;
  std::vector<int64_t> ring_of(g.num_segments());
  for (int64_t r = 0; r < R; ++r) {
    for (int64_t s = g.ring_begin[r]; s < g.ring_begin[r + 1]; ++s) ring_of[s] = r;
  }
  RowOrder o;
  o.seg.resize(g.num_segments());
  std::iota(o.seg.begin(), o.seg.end(), int64_t{0});
  auto batch = [&](int64_t s) { return g.spot_batch[ring_of[s] / g.num_scales]; };
  std::sort(o.seg.begin(), o.seg.end(), [&](int64_t a, int64_t b) {
    const int64_t ba = batch(a), bb = batch(b);
    if (ba != bb) return ba < bb;
    if (g.seg_row[a] != g.seg_row[b]) return g.seg_row[a] < g.seg_row[b];
    return g.seg_col0[a] < g.seg_col0[b];
  });
  o.ring.resize(o.seg.size());
  o.batch_begin.assign(g.batch + 1, 0);
  for (size_t i = 0; i < o.seg.size(); ++i) {
    o.ring[i] = ring_of[o.seg[i]];
    ++o.batch_begin[batch(o.seg[i]) + 1];
  }
  std::partial_sum(o.batch_begin.begin(), o.batch_begin.end(), o.batch_begin.begin());
  return o;
}

// Sum of n contiguous values, accumulated in A (vectorised when no conversion is needed).
template <typename T, typename A>
A span_sum(const T* p, int64_t n) {
  int64_t j = 0;
  A total = 0;
  if constexpr (std::is_same_v<T, A>) {
    using Vec = at::vec::Vectorized<A>;
    Vec acc0(A(0)), acc1(A(0));
    for (; j + 2 * Vec::size() <= n; j += 2 * Vec::size()) {
      acc0 += Vec::loadu(p + j);
      acc1 += Vec::loadu(p + j + Vec::size());
    }
    total = at::vec::vec_reduce_all<A>([](Vec& x, Vec& y) { return x + y; }, acc0 + acc1);
  }
  for (; j < n; ++j) total += static_cast<A>(p[j]);
  return total;
}

template <typename T, typename A>
A span_weighted_sum(const T* p, const double* w, int64_t n) {
  A total = 0;
  for (int64_t j = 0; j < n; ++j) total += static_cast<A>(p[j]) * static_cast<A>(w[j]);
  return total;
}

// Ring sums [N, S, G] (acc dtype) of a contiguous NCHW map: parallel over planes (b, g), each
// plane read front to back in row order.
template <typename T>
void pool_rings_nchw(const SpotGeometry& g, const at::Tensor& dense, at::Tensor& rings) {
  using A = at::opmath_type<T>;
  constexpr int64_t kPrefetch = 12;  // segments ahead (~2 rows); 8-16 measured best
  const int64_t R = g.num_spots * g.num_scales, G = dense.size(1), H = g.height, W = g.width;
  const RowOrder order = row_order(g);
  const T* base = dense.const_data_ptr<T>();
  A* out = rings.data_ptr<A>();
  at::parallel_for(0, g.batch * G, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> acc(R);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / G, ch = plane % G;
      const T* p0 = base + plane * H * W;
      const int64_t i0 = order.batch_begin[b], i1 = order.batch_begin[b + 1];
      if (i0 == i1) continue;
      std::fill(acc.begin(), acc.end(), A(0));
      for (int64_t i = i0; i < i1; ++i) {
        const int64_t s = order.seg[i];
        if (i + kPrefetch < i1) {  // the next rows start in other pages: no hardware prefetch there
          const int64_t t = order.seg[i + kPrefetch];
          const T* row_t = p0 + static_cast<int64_t>(g.seg_row[t]) * W;
          const char* first = reinterpret_cast<const char*>(row_t + g.seg_col0[t]);
          const char* last = reinterpret_cast<const char*>(row_t + g.seg_col1[t]);
          for (const char* c = first; c < last; c += 64) __builtin_prefetch(c);
          __builtin_prefetch(last - 1);
        }
        const T* p = p0 + static_cast<int64_t>(g.seg_row[s]) * W + g.seg_col0[s];
        const int64_t len = g.seg_col1[s] - g.seg_col0[s];
        acc[order.ring[i]] += g.weighted() ? span_weighted_sum<T, A>(p, g.weights.data() + g.seg_weight[s], len)
                                           : span_sum<T, A>(p, len);
      }
      // Only rings of image b are touched by this plane.
      for (int64_t idx = g.batch_begin[b]; idx < g.batch_begin[b + 1]; ++idx) {
        const int64_t n = g.batch_spots[idx];
        for (int64_t k = 0; k < g.num_scales; ++k) out[(n * g.num_scales + k) * G + ch] = acc[n * g.num_scales + k];
      }
    }
  });
}

// Ring sums [N, S, G] (acc dtype) of a channels-last map.
template <typename T>
void pool_rings_nhwc(const SpotGeometry& g, const at::Tensor& dense, at::Tensor& rings) {
  using A = at::opmath_type<T>;
  constexpr int64_t kBlock = 64;
  const int64_t N = g.num_spots, S = g.num_scales, G = dense.size(1), H = g.height, W = g.width;
  const int64_t blocks = (G + kBlock - 1) / kBlock;
  const T* base = dense.const_data_ptr<T>();
  A* out = rings.data_ptr<A>();
  at::parallel_for(0, N * blocks, 1, [&](int64_t begin, int64_t end) {
    A acc[kBlock];
    for (int64_t item = begin; item < end; ++item) {
      const int64_t n = item / blocks, g0 = (item % blocks) * kBlock, nc = std::min(G, g0 + kBlock) - g0;
      const T* image = base + g.spot_batch[n] * H * W * G + g0;
      for (int64_t k = 0; k < S; ++k) {
        std::fill(acc, acc + kBlock, A(0));
        for (int64_t s = g.ring_begin[n * S + k]; s < g.ring_begin[n * S + k + 1]; ++s) {
          const T* row = image + static_cast<int64_t>(g.seg_row[s]) * W * G;
          for (int64_t j = g.seg_col0[s]; j < g.seg_col1[s]; ++j) {
            const T* p = row + j * G;
            if (g.weighted()) {
              const A w = static_cast<A>(g.weights[g.seg_weight[s] + (j - g.seg_col0[s])]);
              for (int64_t c = 0; c < nc; ++c) acc[c] += w * static_cast<A>(p[c]);
            } else {
              for (int64_t c = 0; c < nc; ++c) acc[c] += static_cast<A>(p[c]);
            }
          }
        }
        std::copy(acc, acc + nc, out + (n * S + k) * G + g0);
      }
    }
  });
}

// Paints ring coefficients [N, S, G] (acc dtype) into a contiguous [B, G, H, W] map: parallel over
// planes; each row is zeroed and painted while it is in L1 (overlapping spots add up there), so
// the map is written once, front to back, and never re-read. (Non-temporal stores were slower
// here: the pages of a fresh gradient were just zeroed by the kernel and are still cached.)
template <typename T>
void splat_planes(const SpotGeometry& g, const at::Tensor& coef, at::Tensor& out) {
  using A = at::opmath_type<T>;
  const int64_t S = g.num_scales, R = g.num_spots * S, G = out.size(1), H = g.height, W = g.width;
  const RowOrder order = row_order(g);
  const A* cp = coef.const_data_ptr<A>();
  T* base = out.data_ptr<T>();
  at::parallel_for(0, g.batch * G, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> ring_coef(R);
    std::vector<A> scratch(std::is_same_v<T, A> ? 0 : W);
    for (int64_t plane = begin; plane < end; ++plane) {
      const int64_t b = plane / G, ch = plane % G;
      for (int64_t r = 0; r < R; ++r) ring_coef[r] = cp[r * G + ch];
      T* out_plane = base + plane * H * W;
      int64_t i = order.batch_begin[b];
      const int64_t i_end = order.batch_begin[b + 1];
      for (int64_t y = 0; y < H; ++y) {
        T* out_row = out_plane + y * W;
        if (i == i_end || g.seg_row[order.seg[i]] != y) {
          std::fill(out_row, out_row + W, T(0));
          continue;
        }
        A* row = nullptr;
        if constexpr (std::is_same_v<T, A>) {
          row = out_row;
        } else {
          row = scratch.data();  // reduced precision: accumulate overlaps in float
        }
        std::fill(row, row + W, A(0));
        for (; i < i_end && g.seg_row[order.seg[i]] == y; ++i) {
          const int64_t s = order.seg[i];
          const A c = ring_coef[order.ring[i]];
          if (c == A(0)) continue;  // NaN still propagates
          if (g.weighted()) {
            const double* w = g.weights.data() + g.seg_weight[s] - g.seg_col0[s];
            for (int64_t j = g.seg_col0[s]; j < g.seg_col1[s]; ++j) row[j] += c * static_cast<A>(w[j]);
          } else {
            for (int64_t j = g.seg_col0[s]; j < g.seg_col1[s]; ++j) row[j] += c;
          }
        }
        if constexpr (!std::is_same_v<T, A>) {
          for (int64_t j = 0; j < W; ++j) out_row[j] = static_cast<T>(row[j]);
        }
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> spot_pool_cpu(const at::Tensor& dense, const at::Tensor& centers,
                                                 const at::Tensor& radii, c10::string_view shape,
                                                 c10::string_view reduce, double sigma) {
  detail::check_dense_map(dense, "dense");
  detail::check_same_device(dense, "dense", centers, "centers");
  detail::check_same_device(dense, "dense", radii, "radii");
  const int64_t B = dense.size(0), G = dense.size(1), H = dense.size(2), W = dense.size(3);
  const SpotGeometry g = detail::build_spot_geometry(centers, radii, B, H, W, shape, reduce, sigma);
  const int64_t N = g.num_spots, S = g.num_scales;
  const c10::ScalarType acc = detail::spot_acc_dtype(dense.scalar_type());
  at::Tensor rings = at::zeros({N, S, G}, dense.options().dtype(acc));
  if (N > 0 && G > 0 && g.num_segments() > 0) {
    const bool nhwc = !dense.is_contiguous() && dense.is_contiguous(at::MemoryFormat::ChannelsLast);
    const at::Tensor map = nhwc ? dense : dense.contiguous();
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dense.scalar_type(), "stx_spot_pool_cpu", [&] {
      if (nhwc) {
        pool_rings_nhwc<scalar_t>(g, map, rings);
      } else {
        pool_rings_nchw<scalar_t>(g, map, rings);
      }
    });
  }
  at::Tensor out = detail::rings_to_scales(g, rings, dense.scalar_type()).view(detail::spot_output_shape(radii, G));
  return {out, detail::coverage_tensor(g, radii, dense.scalar_type(), dense.device())};
}

at::Tensor spot_splat_cpu(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii,
                          int64_t batch_size, int64_t height, int64_t width, c10::string_view shape,
                          c10::string_view reduce, double sigma) {
  detail::check_spot_values(values, centers, radii);
  const SpotGeometry g = detail::build_spot_geometry(centers, radii, batch_size, height, width, shape, reduce, sigma);
  const int64_t G = values.size(-1);
  at::Tensor out = at::empty({batch_size, G, height, width}, values.options());
  if (out.numel() == 0) return out;
  const at::Tensor coef = detail::ring_coefficients(g, values.reshape({g.num_spots, g.num_scales, G}));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, values.scalar_type(), "stx_spot_splat_cpu",
                                  [&] { splat_planes<scalar_t>(g, coef, out); });
  return out;
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("spot_pool", &stx::ops::spot_pool_cpu);
  m.impl("spot_splat", &stx::ops::spot_splat_cpu);
}

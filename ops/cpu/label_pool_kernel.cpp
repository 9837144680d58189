// CPU kernels of label_pool / _label_pool_backward.
//   forward:  the label map becomes runs of equal labels once; then, parallel over (image, channel
//             block), each run's channel sums are taken in registers and added to its label's
//             accumulator (deterministic, no atomics).
//   backward: parallel over output planes; a gather of the (normalised) grad by label.
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <ATen/ops/empty.h>
#include <ATen/ops/zeros.h>
#include <torch/library.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <type_traits>
#include <vector>

#include "ops/cpu/vector_kernels.h"
#include "ops/label_pool_common.h"

namespace stx::ops {
namespace {

// A run of equal, non-ignored labels along the pixels of one image (row-major, so cells give
// runs of their width).
struct Run {
  int64_t start;  // first pixel (within the image)
  int64_t label;
  int64_t length;
};

// The runs of every image, and the pixel count of every label. Built once per call, so the
// forward reads the runs (a few MB, cache-resident) once per channel block instead of the label
// map.
template <typename I>
std::vector<std::vector<Run>> label_runs(const at::Tensor& labels, int64_t K, int64_t ignore, at::Tensor& count) {
  const int64_t B = labels.size(0), HW = labels.size(1) * labels.size(2);
  const I* lab = labels.const_data_ptr<I>();
  int64_t* cnt = count.data_ptr<int64_t>();
  std::vector<std::vector<Run>> runs(B);
  at::parallel_for(0, B, 1, [&](int64_t begin, int64_t end) {
    for (int64_t b = begin; b < end; ++b) {
      const I* image = lab + b * HW;
      std::vector<Run>& out = runs[b];
      for (int64_t p = 0; p < HW;) {
        const int64_t l = image[p];
        int64_t q = p + 1;
        while (q < HW && image[q] == image[p]) ++q;
        if (l != ignore) {
          out.push_back({p, l, q - p});
          cnt[b * K + l] += q - p;
        }
        p = q;
      }
    }
  });
  return runs;
}

// acc[run.label][c] += sum of channel c over the run, for the kNc channels at `image` (one run's
// sums stay in registers; kNc = 0: the block's channel count is nc, known at run time).
template <int64_t kNc, typename T, typename A>
void sum_runs(const std::vector<Run>& runs, const T* image, int64_t channel_stride, int64_t pixel_stride,
              int64_t nc, int64_t block, A* acc) {
  constexpr int64_t kMax = kNc > 0 ? kNc : 8;
  const int64_t n = kNc > 0 ? kNc : nc;
  for (const Run& run : runs) {
    A s[kMax] = {};
    const T* v = image + run.start * pixel_stride;
    for (int64_t p = 0; p < run.length; ++p, v += pixel_stride) {
      for (int64_t c = 0; c < n; ++c) s[c] += static_cast<A>(v[c * channel_stride]);
    }
    A* a = acc + run.label * block;
    for (int64_t c = 0; c < n; ++c) a[c] += s[c];
  }
}

template <typename T>
void pool_labels(const at::Tensor& dense, bool nhwc, const std::vector<std::vector<Run>>& runs, int64_t K, bool mean,
                 const at::Tensor& count, at::Tensor& out) {
  using A = at::opmath_type<T>;
  constexpr int64_t kBlock = 8;
  const int64_t B = dense.size(0), G = dense.size(1), HW = dense.size(2) * dense.size(3);
  const int64_t blocks = (G + kBlock - 1) / kBlock;
  const int64_t channel_stride = nhwc ? 1 : HW, pixel_stride = nhwc ? G : 1;
  const T* base = dense.const_data_ptr<T>();
  const int64_t* cnt = count.const_data_ptr<int64_t>();
  T* o = out.data_ptr<T>();
  at::parallel_for(0, B * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<A> acc(K * kBlock);
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / blocks, g0 = (item % blocks) * kBlock, nc = std::min(G, g0 + kBlock) - g0;
      std::fill(acc.begin(), acc.end(), A(0));
      const T* image = base + b * G * HW + g0 * channel_stride;
      if (nc == kBlock) {
        sum_runs<kBlock>(runs[b], image, channel_stride, pixel_stride, nc, kBlock, acc.data());
      } else {
        sum_runs<0>(runs[b], image, channel_stride, pixel_stride, nc, kBlock, acc.data());
      }
      for (int64_t k = 0; k < K; ++k) {
        const int64_t n = cnt[b * K + k];
        const A scale = mean ? (n > 0 ? A(1) / static_cast<A>(n) : A(0)) : A(1);
        for (int64_t c = 0; c < nc; ++c) o[(b * K + k) * G + g0 + c] = static_cast<T>(acc[k * kBlock + c] * scale);
      }
    }
  });
}

template <typename T, typename I>
void unpool_labels(const at::Tensor& grad, const at::Tensor& labels, int64_t ignore, bool mean,
                   const at::Tensor& count, at::Tensor& out) {
  using A = at::opmath_type<T>;
  constexpr int64_t kBlock = 8;  // planes written per scan of the labels
  const int64_t B = grad.size(0), K = grad.size(1), G = grad.size(2), HW = labels.size(1) * labels.size(2);
  const int64_t blocks = (G + kBlock - 1) / kBlock;
  const T* gp = grad.const_data_ptr<T>();
  const I* lab = labels.const_data_ptr<I>();
  const int64_t* cnt = count.const_data_ptr<int64_t>();
  T* o = out.data_ptr<T>();
  // The ignored label reads row K of the table, which stays zero, so no pixel branches. For float/double
  // (and a table int32 offsets can address), the labels become table offsets once per call (they do not
  // depend on the channel block), then each plane of a block is one vectorised gather per chunk of pixels
  // into a contiguous run of the output.
  constexpr bool kGather = std::is_same_v<T, float> || std::is_same_v<T, double>;
  const bool gather = kGather && (K + 1) * kBlock < std::numeric_limits<int32_t>::max();
  constexpr int64_t kChunk = 1024;
  std::vector<int32_t> offsets(gather ? B * HW : 0);
  if (gather) {
    at::parallel_for(0, B * HW, 1 << 16, [&](int64_t begin, int64_t end) {
      for (int64_t p = begin; p < end; ++p) {
        const int64_t l = lab[p];
        offsets[p] = static_cast<int32_t>((l == ignore ? K : l) * kBlock);
      }
    });
  }
  at::parallel_for(0, B * blocks, 1, [&](int64_t begin, int64_t end) {
    std::vector<T> table((K + 1) * kBlock, T(0));  // normalised grad, [label][channel in block]; row K = 0
    for (int64_t item = begin; item < end; ++item) {
      const int64_t b = item / blocks, g0 = (item % blocks) * kBlock, nc = std::min(G, g0 + kBlock) - g0;
      for (int64_t k = 0; k < K; ++k) {
        const int64_t n = cnt[b * K + k];
        const A scale = mean ? (n > 0 ? A(1) / static_cast<A>(n) : A(0)) : A(1);
        for (int64_t c = 0; c < nc; ++c) {
          table[k * kBlock + c] = static_cast<T>(static_cast<A>(gp[(b * K + k) * G + g0 + c]) * scale);
        }
      }
      const I* image_labels = lab + b * HW;
      T* dst = o + (b * G + g0) * HW;
      if constexpr (kGather) {
        if (gather) {
          const int32_t* image_offsets = offsets.data() + b * HW;
          for (int64_t p0 = 0; p0 < HW; p0 += kChunk) {
            const int64_t n = std::min(kChunk, HW - p0);
            for (int64_t c = 0; c < nc; ++c) {
              cpu::gather(table.data() + c, image_offsets + p0, n, dst + c * HW + p0);
            }
          }
          continue;
        }
      }
      for (int64_t p = 0; p < HW; ++p) {
        const int64_t l = image_labels[p];
        const T* row = table.data() + (l == ignore ? K : l) * kBlock;
        for (int64_t c = 0; c < nc; ++c) dst[c * HW + p] = row[c];
      }
    }
  });
}

std::tuple<at::Tensor, at::Tensor> label_pool_cpu(const at::Tensor& dense, const at::Tensor& labels,
                                                  int64_t num_labels, c10::string_view reduce, int64_t ignore_index) {
  const bool mean = detail::parse_label_reduce(reduce);
  detail::check_label_pool_inputs(dense, labels, num_labels, ignore_index);
  const int64_t B = dense.size(0), G = dense.size(1);
  at::Tensor out = at::empty({B, num_labels, G}, dense.options());
  at::Tensor count = at::zeros({B, num_labels}, dense.options().dtype(at::kLong));
  const at::Tensor lab = labels.contiguous();
  const bool nhwc = !dense.is_contiguous() && dense.is_contiguous(at::MemoryFormat::ChannelsLast);
  const at::Tensor map = nhwc ? dense : dense.contiguous();
  AT_DISPATCH_INDEX_TYPES(lab.scalar_type(), "stx_label_pool_cpu", [&] {
    const auto runs = label_runs<index_t>(lab, num_labels, ignore_index, count);
    if (out.numel() == 0) return;
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, dense.scalar_type(), "stx_label_pool_cpu", [&] {
      pool_labels<scalar_t>(map, nhwc, runs, num_labels, mean, count, out);
    });
  });
  return {out, count};
}

at::Tensor label_pool_backward_cpu(const at::Tensor& grad, const at::Tensor& labels, const at::Tensor& count,
                                   c10::string_view reduce, int64_t ignore_index) {
  const bool mean = detail::parse_label_reduce(reduce);
  detail::check_label_pool_backward_inputs(grad, labels, count, ignore_index);
  const int64_t B = grad.size(0), G = grad.size(2);
  at::Tensor out = at::empty({B, G, labels.size(1), labels.size(2)}, grad.options());
  if (out.numel() == 0) return out;
  const at::Tensor g = grad.contiguous(), lab = labels.contiguous(), cnt = count.contiguous();
  AT_DISPATCH_INDEX_TYPES(lab.scalar_type(), "stx_label_pool_backward_cpu", [&] {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kBFloat16, at::kHalf, grad.scalar_type(), "stx_label_pool_backward_cpu",
                                    [&] { unpool_labels<scalar_t, index_t>(g, lab, ignore_index, mean, cnt, out); });
  });
  return out;
}

}  // namespace
}  // namespace stx::ops

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("label_pool", &stx::ops::label_pool_cpu);
  m.impl("_label_pool_backward", &stx::ops::label_pool_backward_cpu);
}

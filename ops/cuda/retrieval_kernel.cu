// CUDA kernels of the retrieval family. cosine_topk: GEMM tiles (cuBLAS through at::mm) + a
// block-select style kernel, one block per query row, that keeps the running top-k in shared
// memory: candidates that beat the current k-th entry are collected, bitonic-sorted and merged by
// rank, so the (score, index) total order makes the result deterministic. k > 1024 falls back to
// a stable sort of [running top-k | tile]. majority_filter: one block per row. merge_topk: two
// stable sorts (index, then score).
#include <limits>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/cuda/CUDAContext.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <torch/library.h>

#include "ops/retrieval_common.h"

namespace stx::ops::retrieval {
namespace {

constexpr int kThreads = 128;  // block size of the select kernel; also its candidate buffer size
constexpr int64_t kMaxBlockSelectK = 1024;
constexpr int64_t kMaxFilterK = 1024;
constexpr int64_t kBankTile = 4096;
constexpr int64_t kQueryTile = 1024;

template <typename T>
__device__ __forceinline__ bool before(T s1, int64_t i1, T s2, int64_t i2) {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}

// Number of entries of a best-first array that rank before (s, i).
template <typename T>
__device__ __forceinline__ int64_t rank_in(const T* as, const int64_t* ai, int64_t n, T s, int64_t i) {
  int64_t lo = 0, hi = n;
  while (lo < hi) {
    const int64_t mid = (lo + hi) / 2;
    if (before(as[mid], ai[mid], s, i)) {
      lo = mid + 1;
    } else {
      hi = mid;
    }
  }
  return lo;
}

template <typename T>
__device__ void bitonic_sort_best_first(T* s, int64_t* idx) {
  const int t = threadIdx.x;
  for (int size = 2; size <= kThreads; size <<= 1) {
    for (int stride = size / 2; stride > 0; stride >>= 1) {
      __syncthreads();
      const int p = t ^ stride;
      if (p > t) {
        const bool up = (t & size) == 0;
        const bool swap = up ? before(s[p], idx[p], s[t], idx[t]) : before(s[t], idx[t], s[p], idx[p]);
        if (swap) {
          const T ts = s[t];
          s[t] = s[p];
          s[p] = ts;
          const int64_t ti = idx[t];
          idx[t] = idx[p];
          idx[p] = ti;
        }
      }
    }
  }
  __syncthreads();
}

// Merges one [qt, nt] score tile into the running best-first lists run_s/run_i ([Q, k]) whose
// valid lengths are run_n ([Q]).
template <typename T>
__global__ void __launch_bounds__(kThreads) tile_select_kernel(
    const T* __restrict__ tile, int64_t nt, int64_t col0, int64_t q0, T* __restrict__ run_s,
    int64_t* __restrict__ run_i, int64_t* __restrict__ run_n, int64_t k, const bool* __restrict__ mask,
    bool exclude_self, bool l2, const T* __restrict__ q_sq, const T* __restrict__ b_sq) {
  extern __shared__ int64_t smem[];
  int64_t* top_i = smem;
  int64_t* new_i = top_i + k;
  int64_t* cand_i = new_i + k;
  T* top_s = reinterpret_cast<T*>(cand_i + kThreads);
  T* new_s = top_s + k;
  T* cand_s = new_s + k;
  __shared__ int count;

  const int tid = threadIdx.x;
  const int64_t r = blockIdx.x;
  const int64_t q = q0 + r;
  T* rs = run_s + q * k;
  int64_t* ri = run_i + q * k;
  int64_t n_top = run_n[q];
  for (int64_t t = tid; t < n_top; t += kThreads) {
    top_s[t] = rs[t];
    top_i[t] = ri[t];
  }
  if (tid == 0) count = 0;
  __syncthreads();

  const T* row = tile + r * nt;
  const T qs = l2 ? q_sq[q] : T(0);
  for (int64_t base = 0; base < nt; base += kThreads) {
    const int64_t j = base + tid;
    if (j < nt) {
      const int64_t g = col0 + j;
      const bool allowed = (mask == nullptr || mask[g]) && !(exclude_self && g == q);
      if (allowed) {
        T s = row[j];
        if (l2) s = 2 * s - qs - b_sq[j];
        if (n_top < k || before(s, g, top_s[k - 1], top_i[k - 1])) {
          const int p = atomicAdd(&count, 1);
          cand_s[p] = s;
          cand_i[p] = g;
        }
      }
    }
    __syncthreads();
    const int c = count;
    __syncthreads();  // everyone has read count before it changes
    if (c == 0) continue;
    if (tid >= c) {
      cand_s[tid] = -std::numeric_limits<T>::infinity();
      cand_i[tid] = std::numeric_limits<int64_t>::max();
    }
    bitonic_sort_best_first(cand_s, cand_i);
    for (int64_t t = tid; t < n_top; t += kThreads) {
      const int64_t pos = t + rank_in(cand_s, cand_i, c, top_s[t], top_i[t]);
      if (pos < k) {
        new_s[pos] = top_s[t];
        new_i[pos] = top_i[t];
      }
    }
    if (tid < c) {
      const int64_t pos = tid + rank_in(top_s, top_i, n_top, cand_s[tid], cand_i[tid]);
      if (pos < k) {
        new_s[pos] = cand_s[tid];
        new_i[pos] = cand_i[tid];
      }
    }
    __syncthreads();
    n_top = n_top + c < k ? n_top + c : k;
    for (int64_t t = tid; t < n_top; t += kThreads) {
      top_s[t] = new_s[t];
      top_i[t] = new_i[t];
    }
    if (tid == 0) count = 0;
    __syncthreads();
  }
  for (int64_t t = tid; t < n_top; t += kThreads) {
    rs[t] = top_s[t];
    ri[t] = top_i[t];
  }
  if (tid == 0) run_n[q] = n_top;
}

// The CPU's rejection (ops/cpu/retrieval_rows.h), naming the first offending row: a row of x [n, D]
// whose squared norm sq [n] is not finite holds NaN/Inf, or is finite but overflows the compute
// dtype (its cosine would be garbage). Called only once a device-side flag said such a row exists.
void reject_rows(const at::Tensor& x, const at::Tensor& sq, const char* name) {
  const int64_t r = at::isfinite(sq).logical_not().nonzero().select(1, 0)[0].item<int64_t>();
  TORCH_CHECK(!at::isfinite(x[r]).all().item<bool>(), "cosine_topk: ", name, " row ", r,
              " has a squared norm that overflows ", x.scalar_type() == at::kFloat ? "float32" : "float64",
              "; rescale the inputs");
  TORCH_CHECK(false, "cosine_topk: ", name, " row ", r, " contains NaN or Inf (non-finite inputs are rejected)");
}

// k > kMaxBlockSelectK: stable sort of [running list | masked tile] (running entries come first
// and have lower indices, so ties keep the lower index).
void merge_tile_by_sort(at::Tensor tile, int64_t col0, int64_t q0, at::Tensor& run_s, at::Tensor& run_i,
                        int64_t k, const at::Tensor& mask, bool exclude_self, bool l2, const at::Tensor& q_sq,
                        const at::Tensor& b_sq) {
  const int64_t qt = tile.size(0), nt = tile.size(1);
  if (l2) tile = 2 * tile - q_sq.narrow(0, q0, qt).unsqueeze(1) - b_sq.unsqueeze(0);
  at::Tensor cols = at::arange(col0, col0 + nt, run_i.options()).unsqueeze(0).expand({qt, nt});
  at::Tensor allowed = at::ones({qt, nt}, run_i.options().dtype(at::kBool));
  if (mask.defined()) allowed = allowed & mask.narrow(0, col0, nt).unsqueeze(0);
  if (exclude_self) allowed = allowed & (cols != at::arange(q0, q0 + qt, run_i.options()).unsqueeze(1));
  tile = tile.masked_fill(~allowed, -std::numeric_limits<double>::infinity());
  at::Tensor s = at::cat({run_s.narrow(0, q0, qt), tile}, 1);
  at::Tensor i = at::cat({run_i.narrow(0, q0, qt), at::where(allowed, cols, -1)}, 1);
  auto [sorted, order] = at::sort(s, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  at::Tensor top_s = sorted.narrow(1, 0, k);
  at::Tensor top_i = i.gather(1, order.narrow(1, 0, k));
  run_s.narrow(0, q0, qt).copy_(top_s);
  run_i.narrow(0, q0, qt).copy_(at::where(at::isinf(top_s) & (top_s < 0), -1, top_i));
}

std::tuple<at::Tensor, at::Tensor> cosine_topk_cuda(const at::Tensor& query, const at::Tensor& bank, int64_t k,
                                                    c10::string_view metric_name,
                                                    const std::optional<at::Tensor>& bank_mask, bool exclude_self) {
  check_topk_args(query, bank, k, bank_mask);
  const Metric metric = parse_metric(metric_name);
  c10::cuda::CUDAGuard guard(query.device());
  const int64_t Q = query.size(0), N = bank.size(0);
  const auto dtype = query.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
  const auto opts = query.options().dtype(dtype);
  at::Tensor run_s = at::full({Q, k}, -std::numeric_limits<double>::infinity(), opts);
  at::Tensor run_i = at::full({Q, k}, -1, query.options().dtype(at::kLong));
  if (Q == 0 || N == 0) return {run_s.to(query.scalar_type()), run_i};
  at::Tensor run_n = at::zeros({Q}, run_i.options());

  at::Tensor q = query.to(dtype).contiguous();
  const at::Tensor q_sq = (q * q).sum(1);
  if (!at::isfinite(q_sq).all().item<bool>()) reject_rows(q, q_sq, "query");
  if (metric == Metric::kCosine) q = q / q_sq.sqrt().clamp_min(kNormEps).unsqueeze(1);
  const at::Tensor mask = bank_mask.has_value() ? bank_mask->contiguous() : at::Tensor();
  at::Tensor bad = at::zeros({}, query.options().dtype(at::kBool));  // one sync at the end
  const int64_t nt_max = std::min(N, kBankTile), qt_max = std::min(Q, kQueryTile);
  at::Tensor gemm_buf = at::empty({qt_max * nt_max}, opts);
  const bool block_select = k <= kMaxBlockSelectK;
  auto stream = at::cuda::getCurrentCUDAStream();

  for (int64_t n0 = 0; n0 < N; n0 += nt_max) {
    const int64_t nt = std::min(nt_max, N - n0);
    at::Tensor b = bank.narrow(0, n0, nt).to(dtype);
    const at::Tensor b_sq = (b * b).sum(1);
    bad.logical_or_(at::isfinite(b_sq).all().logical_not());
    if (metric == Metric::kCosine) b = b / b_sq.sqrt().clamp_min(kNormEps).unsqueeze(1);
    for (int64_t q0 = 0; q0 < Q; q0 += qt_max) {
      const int64_t qt = std::min(qt_max, Q - q0);
      at::Tensor tile = gemm_buf.narrow(0, 0, qt * nt).view({qt, nt});
      at::mm_out(tile, q.narrow(0, q0, qt), b.t());
      const bool l2 = metric == Metric::kL2;
      if (!block_select) {
        merge_tile_by_sort(tile, n0, q0, run_s, run_i, k, mask, exclude_self, l2, q_sq, b_sq);
        continue;
      }
      AT_DISPATCH_FLOATING_TYPES(dtype, "cosine_topk_cuda", [&] {
        const size_t smem = static_cast<size_t>(2 * k + kThreads) * (sizeof(int64_t) + sizeof(scalar_t));
        tile_select_kernel<scalar_t><<<static_cast<unsigned>(qt), kThreads, smem, stream>>>(
            tile.const_data_ptr<scalar_t>(), nt, n0, q0, run_s.mutable_data_ptr<scalar_t>(),
            run_i.mutable_data_ptr<int64_t>(), run_n.mutable_data_ptr<int64_t>(), k,
            mask.defined() ? mask.const_data_ptr<bool>() : nullptr, exclude_self, l2,
            q_sq.const_data_ptr<scalar_t>(), b_sq.const_data_ptr<scalar_t>());
        C10_CUDA_KERNEL_LAUNCH_CHECK();
      });
    }
  }
  if (bad.item<bool>()) {
    const at::Tensor b = bank.to(dtype);
    reject_rows(b, (b * b).sum(1), "bank");
  }
  return {run_s.to(query.scalar_type()), run_i};
}

__global__ void majority_filter_kernel(const int64_t* __restrict__ index, const int64_t* __restrict__ labels,
                                       int64_t k, int64_t num_types, bool* __restrict__ keep) {
  extern __shared__ int64_t smem[];
  int64_t* lab = smem;       // label of each neighbour, -1 for padding
  int64_t* cnt = lab + k;    // occurrences of that label in the row
  int64_t* first = cnt + k;  // first rank of that label
  int64_t* rank = first + k; // rank of the label among the row's labels (at its first rank)
  const int64_t row = blockIdx.x;
  const int64_t* ir = index + row * k;
  for (int64_t r = threadIdx.x; r < k; r += blockDim.x) lab[r] = ir[r] >= 0 ? labels[ir[r]] : -1;
  __syncthreads();
  for (int64_t r = threadIdx.x; r < k; r += blockDim.x) {
    int64_t c = 0, f = r;
    if (lab[r] >= 0) {
      for (int64_t s = 0; s < k; ++s) {
        if (lab[s] == lab[r]) {
          ++c;
          f = s < f ? s : f;
        }
      }
    }
    cnt[r] = c;
    first[r] = f;
  }
  __syncthreads();
  for (int64_t r = threadIdx.x; r < k; r += blockDim.x) {
    int64_t better = 0;
    if (lab[r] >= 0 && first[r] == r) {
      for (int64_t s = 0; s < k; ++s) {
        if (lab[s] >= 0 && first[s] == s && (cnt[s] > cnt[r] || (cnt[s] == cnt[r] && s < r))) ++better;
      }
    }
    rank[r] = better;
  }
  __syncthreads();
  for (int64_t r = threadIdx.x; r < k; r += blockDim.x) {
    keep[row * k + r] = lab[r] >= 0 && (num_types == 0 || rank[first[r]] < num_types);
  }
}

at::Tensor majority_filter_cuda(const at::Tensor& index, const at::Tensor& bank_labels, int64_t num_types,
                                std::optional<int64_t> num_labels) {
  check_filter_args(index, bank_labels, num_types, num_labels);
  c10::cuda::CUDAGuard guard(index.device());
  const int64_t N = bank_labels.size(0);
  check_values_in_range(bank_labels, 0, num_labels.value_or(std::numeric_limits<int64_t>::max()),
                        "majority_filter", "bank_labels");
  check_values_in_range(index, -1, N, "majority_filter", "index");
  const int64_t Q = index.size(0), k = index.size(1);
  TORCH_CHECK(k <= kMaxFilterK, "majority_filter: k must be <= ", kMaxFilterK, " on CUDA, got ", k);
  at::Tensor keep = at::empty(index.sizes(), index.options().dtype(at::kBool));
  if (Q == 0 || k == 0) return keep;
  const at::Tensor idx = index.contiguous(), labels = bank_labels.contiguous();
  const int threads = static_cast<int>(std::min<int64_t>(k, 256));
  majority_filter_kernel<<<static_cast<unsigned>(Q), threads, 4 * k * sizeof(int64_t),
                           at::cuda::getCurrentCUDAStream()>>>(idx.const_data_ptr<int64_t>(),
                                                               labels.const_data_ptr<int64_t>(), k, num_types,
                                                               keep.mutable_data_ptr<bool>());
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  return keep;
}

std::tuple<at::Tensor, at::Tensor> merge_topk_cuda(const at::Tensor& scores, const at::Tensor& index, int64_t k) {
  check_merge_args(scores, index, k);
  c10::cuda::CUDAGuard guard(scores.device());
  const int64_t P = scores.size(0), Q = scores.size(1), K = scores.size(2);
  TORCH_CHECK(!at::isnan(scores).any().item<bool>(), "merge_topk: scores contains NaN");
  at::Tensor s = scores.permute({1, 0, 2}).reshape({Q, P * K});
  at::Tensor i = index.permute({1, 0, 2}).reshape({Q, P * K});
  s = s.masked_fill(i < 0, -std::numeric_limits<double>::infinity());
  // (score desc, index asc): stable sort by index, then stable sort by score.
  auto [i_sorted, by_index] = at::sort(i, /*stable=*/true, /*dim=*/1, /*descending=*/false);
  s = s.gather(1, by_index);
  auto [s_sorted, by_score] = at::sort(s, /*stable=*/true, /*dim=*/1, /*descending=*/true);
  i = i_sorted.gather(1, by_score);
  const int64_t m = std::min(k, P * K);
  at::Tensor out_s = at::full({Q, k}, -std::numeric_limits<double>::infinity(), scores.options());
  at::Tensor out_i = at::full({Q, k}, -1, index.options());
  if (m > 0) {
    const at::Tensor ts = s_sorted.narrow(1, 0, m);
    out_s.narrow(1, 0, m).copy_(ts);
    out_i.narrow(1, 0, m).copy_(at::where(at::isinf(ts) & (ts < 0), -1, i.narrow(1, 0, m)));
  }
  return {out_s, out_i};
}

}  // namespace
}  // namespace stx::ops::retrieval

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("cosine_topk", &stx::ops::retrieval::cosine_topk_cuda);
  m.impl("majority_filter", &stx::ops::retrieval::majority_filter_cuda);
  m.impl("merge_topk", &stx::ops::retrieval::merge_topk_cuda);
}

// CPU kernels of the retrieval family: tiled exact top-k (GEMM tile via at::mm + per-row buffered
// selection, parallel over query rows), the majority cell-type filter and the shard merge.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <type_traits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include "ops/cpu/retrieval_rows.h"
#include "ops/cpu/retrieval_screen.h"
#include "ops/cpu/retrieval_select.h"
#include "ops/cpu/vector_kernels.h"
#include "ops/retrieval_common.h"

namespace stx::ops::retrieval {
namespace {

struct ScanContext {
  const bool* mask;  // [N] or nullptr
  int64_t self;      // global bank index excluded for this query, or -1
  int64_t col0;      // global bank index of the tile's first column
};

// A lower bound on the k-th largest admissible score of a tile row, computed without selection over
// the whole row: split the columns into m >= k disjoint groups (strided, so the group maxima are one
// vertical max over contiguous chunks); the k largest group maxima are k distinct entries, so the
// k-th largest of them is <= the row's k-th largest. With m = 2k the bound sits near the row's
// (k + k/8)-th score, so the scan admits few more than k candidates and rarely compacts (m is at
// least 64 so that the vertical max vectorises for small k). `skip` is a
// column excluded from the row (the query itself), or -1.
inline int64_t bound_groups(int64_t k) { return (std::max<int64_t>(2 * k, 64) + 15) / 16 * 16; }

template <typename T>
T kth_lower_bound(const T* row, int64_t nt, int64_t k, int64_t skip, std::vector<T>& maxima) {
  const int64_t m = bound_groups(k);
  constexpr T kLowest = -std::numeric_limits<T>::infinity();
  maxima.assign(m, kLowest);
  T* mx = maxima.data();
  const int64_t full = nt / m * m;
  cpu::max_into(row, nt / m, m, mx);
  for (int64_t j = full; j < nt; ++j) mx[j - full] = row[j] > mx[j - full] ? row[j] : mx[j - full];
  if (skip >= 0 && skip < nt) {
    const int64_t g = skip % m;
    mx[g] = kLowest;
    for (int64_t j = g; j < nt; j += m) {
      if (j != skip && row[j] > mx[g]) mx[g] = row[j];
    }
  }
  // Any t with at least k maxima >= t bounds the k-th maximum from below, so bisect on the value
  // (a vectorised count per step) instead of selecting it exactly: lo keeps >= k maxima at or
  // above it, hi fewer; 12 steps leave a gap of 1/4096 of the maxima's range.
  const auto [min_it, max_it] = std::minmax_element(mx, mx + m);
  T lo = *min_it, hi = *max_it;
  if (!std::isfinite(lo) || !std::isfinite(hi)) {  // a -inf score: select exactly
    std::nth_element(mx, mx + (k - 1), mx + m, std::greater<T>());
    return mx[k - 1];
  }
  if (cpu::count_at_least(mx, m, hi) >= k) return hi;
  for (int step = 0; step < 12; ++step) {
    const T mid = lo + (hi - lo) / 2;
    if (!(mid > lo && mid < hi)) break;
    (cpu::count_at_least(mx, m, mid) >= k ? lo : hi) = mid;
  }
  return lo;
}

// Per-thread buffers of scan_row: the group maxima of the bound and the collected columns.
struct RowScratch {
  std::vector<float> maxima_f;
  std::vector<double> maxima_d;
  std::vector<int32_t> columns;
  std::vector<float>& maxima(float) { return maxima_f; }
  std::vector<double>& maxima(double) { return maxima_d; }
};

// Feeds one row of a score tile into the row's running top-k. Columns arrive in increasing bank index, so
// a candidate equal to the threshold never beats the kept entries (they have lower indices); a candidate
// below `floor` (a lower bound on the final k-th score) cannot be in the top-k at all.
template <typename T>
void scan_row(const T* row, int64_t nt, const ScanContext& ctx, TopkBuffer<T>& heap, RowScratch& scratch) {
  auto admit = [&](int64_t j) {
    const int64_t g = ctx.col0 + j;
    if ((ctx.mask != nullptr && !ctx.mask[g]) || g == ctx.self) return;
    heap.push(row[j], g);
  };
  // The bound needs every column of the row to be admissible (apart from the query itself). It only
  // pays before the row's first compaction: afterwards the running k-th best of the earlier tiles is
  // already a tighter threshold than one tile's bound.
  const bool bounded = !heap.primed() && ctx.mask == nullptr && nt >= 2 * bound_groups(heap.k());
  if (bounded) {
    // A few percent of the row clears the floor, spread over the whole row: collect those columns
    // in one branch-free pass, then push them.
    const T floor = kth_lower_bound(row, nt, heap.k(), ctx.self >= 0 ? ctx.self - ctx.col0 : -1,
                                    scratch.maxima(T{}));
    scratch.columns.resize(nt);
    const int64_t c = cpu::collect_at_least(row, nt, floor, scratch.columns.data());
    for (int64_t i = 0; i < c; ++i) admit(scratch.columns[i]);
    return;
  }
  int64_t j = 0;
  for (; j < nt && !heap.primed(); ++j) admit(j);
  while ((j = cpu::next_candidate(row, j, nt, heap.threshold())) < nt) admit(j++);
}

template <typename T>
void cosine_topk_impl(const at::Tensor& query, const at::Tensor& bank, int64_t k, Metric metric, const bool* mask,
                      bool exclude_self, at::Tensor& out_scores, at::Tensor& out_index) {
  const auto dtype = c10::CppTypeToScalarType<T>::value;
  const int64_t Q = query.size(0), N = bank.size(0), D = query.size(1);

  at::Tensor q = query.to(dtype).contiguous();
  std::vector<T> q_sq(Q);
  at::Tensor qn = metric == Metric::kCosine ? at::empty_like(q) : at::Tensor();
  row_sq_norms(q.const_data_ptr<T>(), Q, D, q_sq.data(), "query", 0, qn.defined() ? qn.mutable_data_ptr<T>() : nullptr);
  if (qn.defined()) q = qn;

  std::vector<Entry<T>> storage(static_cast<size_t>(Q * 2 * k));
  std::vector<TopkBuffer<T>> heaps;
  heaps.reserve(Q);
  for (int64_t r = 0; r < Q; ++r) heaps.emplace_back(storage.data() + r * 2 * k, k);

  at::Tensor scores = out_scores.scalar_type() == dtype ? out_scores : at::empty({Q, k}, q.options());
  T* s_ptr = scores.mutable_data_ptr<T>();
  int64_t* i_ptr = out_index.mutable_data_ptr<int64_t>();

  const int64_t nt_max = std::min<int64_t>(N, kBankTile);
  const int64_t qt_max = std::min<int64_t>(Q, kQueryTile);
  bool screened = false;
  if constexpr (std::is_same_v<T, float>) {
    screened = use_int8_screen(metric, Q, N, D);
    if (screened) screened_cosine_scan(q, bank, mask, exclude_self, heaps);
  }
  if (N > 0 && !screened) {
    at::Tensor gemm_buf = at::empty({qt_max * nt_max}, q.options());
    at::Tensor tile_buf = at::empty({nt_max, D}, q.options());
    std::vector<T> b_sq(nt_max);
    for (int64_t n0 = 0; n0 < N; n0 += nt_max) {
      const int64_t nt = std::min(nt_max, N - n0);
      const bool last_tile = n0 + nt == N;
      at::Tensor b = bank.narrow(0, n0, nt);
      if (b.scalar_type() != dtype || !b.is_contiguous()) {
        b = tile_buf.narrow(0, 0, nt).copy_(b);
      }
      if (metric == Metric::kCosine) {
        at::Tensor dst = tile_buf.narrow(0, 0, nt);
        row_sq_norms(b.const_data_ptr<T>(), nt, D, b_sq.data(), "bank", n0, dst.mutable_data_ptr<T>());
        b = dst;
      } else {
        row_sq_norms(b.const_data_ptr<T>(), nt, D, b_sq.data(), "bank", n0);
      }
      for (int64_t q0 = 0; q0 < Q; q0 += qt_max) {
        const int64_t qt = std::min(qt_max, Q - q0);
        at::Tensor tile = gemm_buf.narrow(0, 0, qt * nt).view({qt, nt});
        at::mm_out(tile, q.narrow(0, q0, qt), b.t());
        T* tile_ptr = tile.mutable_data_ptr<T>();
        at::parallel_for(0, qt, 4, [&](int64_t rb, int64_t re) {
          RowScratch scratch;
          for (int64_t r = rb; r < re; ++r) {
            T* row = tile_ptr + r * nt;
            if (metric == Metric::kL2) {  // -(|q|^2 - 2 q.b + |b|^2)
              const T qs = q_sq[q0 + r];
              for (int64_t j = 0; j < nt; ++j) row[j] = 2 * row[j] - qs - b_sq[j];
            }
            const ScanContext ctx{mask, exclude_self ? q0 + r : -1, n0};
            scan_row(row, nt, ctx, heaps[q0 + r], scratch);
            // Written by the thread that scanned the row, while its buffer is still in cache.
            if (last_tile) heaps[q0 + r].write_sorted(s_ptr + (q0 + r) * k, i_ptr + (q0 + r) * k);
          }
        });
      }
    }
  }

  if (screened || N == 0) {
    at::parallel_for(0, Q, 16, [&](int64_t b, int64_t e) {
      for (int64_t r = b; r < e; ++r) heaps[r].write_sorted(s_ptr + r * k, i_ptr + r * k);
    });
  }
  if (!scores.is_same(out_scores)) out_scores.copy_(scores);
}

std::tuple<at::Tensor, at::Tensor> cosine_topk_cpu(const at::Tensor& query, const at::Tensor& bank, int64_t k,
                                                   c10::string_view metric_name,
                                                   const std::optional<at::Tensor>& bank_mask, bool exclude_self) {
  check_topk_args(query, bank, k, bank_mask);
  const Metric metric = parse_metric(metric_name);
  const int64_t Q = query.size(0);
  at::Tensor scores = at::empty({Q, k}, query.options());
  at::Tensor index = at::empty({Q, k}, query.options().dtype(at::kLong));
  if (Q == 0) return {scores, index};
  at::Tensor mask = bank_mask.has_value() ? bank_mask->contiguous() : at::Tensor();
  const bool* mask_ptr = mask.defined() ? mask.const_data_ptr<bool>() : nullptr;
  if (query.scalar_type() == at::kDouble) {
    cosine_topk_impl<double>(query, bank, k, metric, mask_ptr, exclude_self, scores, index);
  } else {  // float32 and reduced precision compute in float32
    cosine_topk_impl<float>(query, bank, k, metric, mask_ptr, exclude_self, scores, index);
  }
  return {scores, index};
}

struct LabelCount {
  int64_t label;
  int64_t count;
  int64_t first_rank;
};

// Most frequent first; equal counts -> the label met first in rank order (Counter.most_common).
inline bool more_common(const LabelCount& a, const LabelCount& c) {
  return a.count > c.count || (a.count == c.count && a.first_rank < c.first_rank);
}

// Labels below this bound are counted in a dense per-thread table (reset after each row, touching
// only the labels seen); larger label ids use a linear list of the row's distinct labels.
constexpr int64_t kDenseLabels = 1 << 16;

at::Tensor majority_filter_cpu(const at::Tensor& index, const at::Tensor& bank_labels, int64_t num_types,
                               std::optional<int64_t> num_labels) {
  check_filter_args(index, bank_labels, num_types, num_labels);
  const int64_t N = bank_labels.size(0);
  const int64_t max_label = check_values_in_range(
      bank_labels, 0, num_labels.value_or(std::numeric_limits<int64_t>::max()), "majority_filter", "bank_labels");
  check_values_in_range(index, -1, N, "majority_filter", "index");
  const at::Tensor idx = index.contiguous();
  const at::Tensor labels = bank_labels.contiguous();
  at::Tensor keep = at::empty(index.sizes(), index.options().dtype(at::kBool));
  const int64_t Q = idx.size(0), K = idx.size(1);
  const int64_t* ip = idx.const_data_ptr<int64_t>();
  const int64_t* lp = labels.const_data_ptr<int64_t>();
  bool* kp = keep.mutable_data_ptr<bool>();
  const bool dense = max_label < kDenseLabels;
  at::parallel_for(0, Q, 16, [&](int64_t b, int64_t e) {
    std::vector<LabelCount> counts;  // the row's distinct labels
    counts.reserve(K);
    // dense: slot[label] = position in counts + 1 (0 = not seen in this row).
    std::vector<int32_t> slot(dense ? static_cast<size_t>(max_label + 1) : 0, 0);
    std::vector<int32_t> row_slot(K);  // position in counts of each neighbour's label, -1 for padding
    std::vector<LabelCount> ranked;    // counts, partially sorted by more_common
    for (int64_t q = b; q < e; ++q) {
      const int64_t* row = ip + q * K;
      counts.clear();
      for (int64_t r = 0; r < K; ++r) {
        if (row[r] < 0) {
          row_slot[r] = -1;
          continue;
        }
        const int64_t lab = lp[row[r]];
        int64_t pos;
        if (dense) {
          pos = slot[lab] - 1;
          if (pos < 0) {
            pos = static_cast<int64_t>(counts.size());
            slot[lab] = static_cast<int32_t>(pos + 1);
          }
        } else {
          const auto it =
              std::find_if(counts.begin(), counts.end(), [&](const LabelCount& c) { return c.label == lab; });
          pos = it - counts.begin();
        }
        if (pos == static_cast<int64_t>(counts.size())) {
          counts.push_back({lab, 1, r});
        } else {
          ++counts[pos].count;
        }
        row_slot[r] = static_cast<int32_t>(pos);
      }
      const int64_t n_distinct = static_cast<int64_t>(counts.size());
      const int64_t n_top = num_types == 0 ? n_distinct : std::min(num_types, n_distinct);
      // Rank threshold: a label is kept when it sorts among the first n_top by more_common.
      ranked.assign(counts.begin(), counts.end());
      std::partial_sort(ranked.begin(), ranked.begin() + n_top, ranked.end(), more_common);
      for (int64_t r = 0; r < K; ++r) {
        bool kept = false;
        if (row_slot[r] >= 0) {
          const LabelCount& c = counts[row_slot[r]];
          kept = n_top == n_distinct || !more_common(ranked[n_top - 1], c);
        }
        kp[q * K + r] = kept;
      }
      if (dense) {
        for (const LabelCount& c : counts) slot[c.label] = 0;
      }
    }
  });
  return keep;
}

std::tuple<at::Tensor, at::Tensor> merge_topk_cpu(const at::Tensor& scores, const at::Tensor& index, int64_t k) {
  check_merge_args(scores, index, k);
  const int64_t P = scores.size(0), Q = scores.size(1), K = scores.size(2);
  const at::Tensor s = scores.contiguous();
  const at::Tensor ix = index.contiguous();
  at::Tensor out_s = at::empty({Q, k}, scores.options());
  at::Tensor out_i = at::empty({Q, k}, index.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, s.scalar_type(), "merge_topk", [&] {
    using acc_t = at::opmath_type<scalar_t>;
    const scalar_t* sp = s.const_data_ptr<scalar_t>();
    const int64_t* ipp = ix.const_data_ptr<int64_t>();
    scalar_t* osp = out_s.mutable_data_ptr<scalar_t>();
    int64_t* oip = out_i.mutable_data_ptr<int64_t>();
    at::parallel_for(0, Q, 16, [&](int64_t b, int64_t e) {
      std::vector<Entry<acc_t>> storage(2 * k);
      for (int64_t q = b; q < e; ++q) {
        TopkBuffer<acc_t> heap(storage.data(), k);
        for (int64_t p = 0; p < P; ++p) {
          const int64_t base = (p * Q + q) * K;
          for (int64_t j = 0; j < K; ++j) {
            if (ipp[base + j] < 0) continue;  // padding of a shard with fewer than k candidates
            const acc_t v = static_cast<acc_t>(sp[base + j]);
            TORCH_CHECK(!std::isnan(v), "merge_topk: scores contains NaN at shard ", p, ", query ", q);
            heap.push(v, ipp[base + j]);
          }
        }
        heap.write_sorted(osp + q * k, oip + q * k);
      }
    });
  });
  return {out_s, out_i};
}

}  // namespace
}  // namespace stx::ops::retrieval

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("cosine_topk", &stx::ops::retrieval::cosine_topk_cpu);
  m.impl("majority_filter", &stx::ops::retrieval::majority_filter_cpu);
  m.impl("merge_topk", &stx::ops::retrieval::merge_topk_cpu);
}

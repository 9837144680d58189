#pragma once
// Running top-k of (score, index) pairs for one query row, shared by cosine_topk and merge_topk.
// Order: higher score first; equal scores -> lower index first (a stable, deterministic order).
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "ops/cpu/cpu_features.h"
#include "ops/cpu/vector_kernels.h"

namespace stx::ops::retrieval {

template <typename T>
inline bool ranks_before(T s1, int64_t i1, T s2, int64_t i2) {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}

template <typename T>
struct Entry {
  T score;
  int64_t index;
};

// A function object rather than a function pointer, so nth_element/sort inline the comparison.
struct EntryBefore {
  template <typename T>
  bool operator()(const Entry<T>& a, const Entry<T>& b) const {
    return ranks_before(a.score, a.index, b.score, b.index);
  }
};

// Candidates that beat the current k-th best are appended to a 2k buffer (caller-owned); when it
// is full, nth_element keeps the best k and the k-th becomes the new threshold. Amortised O(1)
// per admitted candidate, with far fewer unpredictable branches than a binary heap.
template <typename T>
class TopkBuffer {
 public:
  TopkBuffer(Entry<T>* storage, int64_t k) : e_(storage), k_(k) {}

  // Score a candidate must beat (strictly, when it comes later in index order) to be admitted.
  T threshold() const { return primed_ ? kth_.score : -std::numeric_limits<T>::infinity(); }
  bool primed() const { return primed_; }
  int64_t k() const { return k_; }

  void push(T s, int64_t idx) {
    if (primed_ && !ranks_before(s, idx, kth_.score, kth_.index)) return;
    e_[n_++] = {s, idx};
    if (n_ == 2 * k_) compact();
  }

  // Writes the kept entries best-first into out_s/out_i (k slots), padding with -inf / -1.
  template <typename Out>
  void write_sorted(Out* out_s, int64_t* out_i) {
    if constexpr (std::is_same_v<T, float>) {
      // The ranking counts n^2 64-bit key comparisons; without AVX2 (baseline x86-64 has no 64-bit
      // vector compare) that is several times slower than nth_element + sort, which gives the same
      // output.
      if (n_ <= kRankedMax && cpu::active_isa() != cpu::Isa::kBaseline && write_ranked(out_s, out_i)) return;
    }
    const int64_t m = std::min(n_, k_);
    if (n_ > k_) std::nth_element(e_, e_ + (k_ - 1), e_ + n_, EntryBefore{});
    std::sort(e_, e_ + m, EntryBefore{});
    for (int64_t j = 0; j < k_; ++j) {
      out_s[j] = static_cast<Out>(j < m ? e_[j].score : -std::numeric_limits<T>::infinity());
      out_i[j] = j < m ? e_[j].index : -1;
    }
  }

 private:
  static constexpr int64_t kRankedMax = 256;

  // Small buffers: one 64-bit key per entry whose order is ranks_before (score descending in the
  // high half, bank index in the low half), ranked by counting, so the whole buffer is selected
  // and sorted without a branch per comparison. False (nothing written) if an index needs more
  // than 32 bits.
  template <typename Out>
  bool write_ranked(Out* out_s, int64_t* out_i) {
    uint64_t key[kRankedMax];
    int32_t rank[kRankedMax];
    for (int64_t j = 0; j < n_; ++j) {
      if (e_[j].index < 0 || e_[j].index > static_cast<int64_t>(UINT32_MAX)) return false;
      const float s = e_[j].score + 0.0f;  // -0 and +0 compare equal: give them one key
      uint32_t bits;
      std::memcpy(&bits, &s, sizeof bits);
      const uint32_t ascending = (bits >> 31) != 0 ? ~bits : bits | 0x80000000u;
      key[j] = (static_cast<uint64_t>(~ascending) << 32) | static_cast<uint64_t>(e_[j].index);
    }
    cpu::rank_keys(key, n_, rank);
    // Equal (score, index) pairs (e.g. one index in two merge_topk shards) share a rank and would
    // leave output slots unwritten: the sort path below handles them.
    bool taken[kRankedMax] = {};
    for (int64_t j = 0; j < n_; ++j) {
      if (taken[rank[j]]) return false;
      taken[rank[j]] = true;
    }
    for (int64_t j = n_; j < k_; ++j) {
      out_s[j] = static_cast<Out>(-std::numeric_limits<T>::infinity());
      out_i[j] = -1;
    }
    for (int64_t j = 0; j < n_; ++j) {
      if (rank[j] < k_) {
        out_s[rank[j]] = static_cast<Out>(e_[j].score);
        out_i[rank[j]] = e_[j].index;
      }
    }
    return true;
  }

  void compact() {
    std::nth_element(e_, e_ + (k_ - 1), e_ + n_, EntryBefore{});
    n_ = k_;
    kth_ = e_[k_ - 1];  // nth_element leaves the k-th best there and only better ones before it
    primed_ = true;
  }

  Entry<T>* e_;
  int64_t k_;
  int64_t n_ = 0;
  Entry<T> kth_{};
  bool primed_ = false;
};

}  // namespace stx::ops::retrieval

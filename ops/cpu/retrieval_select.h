#pragma once
// Running top-k of (score, index) pairs for one query row, shared by cosine_topk and merge_topk.
// Order: higher score first; equal scores -> lower index first (a stable, deterministic order).
#include <algorithm>
#include <cstdint>
#include <limits>

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
    const int64_t m = std::min(n_, k_);
    if (n_ > k_) std::nth_element(e_, e_ + (k_ - 1), e_ + n_, EntryBefore{});
    std::sort(e_, e_ + m, EntryBefore{});
    for (int64_t j = 0; j < k_; ++j) {
      out_s[j] = static_cast<Out>(j < m ? e_[j].score : -std::numeric_limits<T>::infinity());
      out_i[j] = j < m ? e_[j].index : -1;
    }
  }

 private:
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

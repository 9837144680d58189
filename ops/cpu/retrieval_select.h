#pragma once
// Running top-k of (score, index) pairs for one query row, shared by cosine_topk and merge_topk.
// Order: higher score first; equal scores -> lower index first (a stable, deterministic order).
#include <algorithm>
#include <cstdint>
#include <limits>
#include <utility>

namespace stx::ops::retrieval {

template <typename T>
inline bool ranks_before(T s1, int64_t i1, T s2, int64_t i2) {
  return s1 > s2 || (s1 == s2 && i1 < i2);
}

// A bounded heap over caller-owned storage whose root is the WORST kept entry, so a candidate
// is admitted by one comparison against the root (like faiss's CPU heaps).
template <typename T>
class TopkHeap {
 public:
  TopkHeap(T* scores, int64_t* index, int64_t k) : s_(scores), i_(index), k_(k) {}

  int64_t size() const { return n_; }
  bool full() const { return n_ == k_; }
  // Score a candidate must beat (strictly, when it comes later in index order) to enter.
  T threshold() const { return full() ? s_[0] : -std::numeric_limits<T>::infinity(); }

  void push(T s, int64_t idx) {
    if (!full()) {
      int64_t c = n_++;
      while (c > 0) {  // sift up: parents must be worse than children
        int64_t p = (c - 1) / 2;
        if (!ranks_before(s_[p], i_[p], s, idx)) break;
        s_[c] = s_[p];
        i_[c] = i_[p];
        c = p;
      }
      s_[c] = s;
      i_[c] = idx;
      return;
    }
    if (!ranks_before(s, idx, s_[0], i_[0])) return;
    int64_t c = 0;
    for (;;) {  // sift down the replaced root
      int64_t l = 2 * c + 1;
      if (l >= n_) break;
      int64_t w = l;  // the worse child
      if (l + 1 < n_ && ranks_before(s_[l], i_[l], s_[l + 1], i_[l + 1])) w = l + 1;
      if (!ranks_before(s, idx, s_[w], i_[w])) break;
      s_[c] = s_[w];
      i_[c] = i_[w];
      c = w;
    }
    s_[c] = s;
    i_[c] = idx;
  }

  // Writes the kept entries best-first into out_s/out_i (k slots), padding with -inf / -1.
  template <typename Out>
  void write_sorted(Out* out_s, int64_t* out_i, std::pair<T, int64_t>* scratch) const {
    for (int64_t j = 0; j < n_; ++j) scratch[j] = {s_[j], i_[j]};
    std::sort(scratch, scratch + n_, [](const auto& a, const auto& b) {
      return ranks_before(a.first, a.second, b.first, b.second);
    });
    for (int64_t j = 0; j < k_; ++j) {
      out_s[j] = static_cast<Out>(j < n_ ? scratch[j].first : -std::numeric_limits<T>::infinity());
      out_i[j] = j < n_ ? scratch[j].second : -1;
    }
  }

 private:
  T* s_;
  int64_t* i_;
  int64_t k_;
  int64_t n_ = 0;
};

}  // namespace stx::ops::retrieval

#pragma once
// Incremental reward state of one episode: each added spot costs O(spots of its section)
// (faithful: O(N)) for the coverage distance, O(picks of its section) for the dispersion and
// O(1) for the single-cell terms; nothing is recomputed over all pairs.
#include <vector>

#include <stx/envs/task.h>

namespace stx::envs {

class STX_API RewardTracker {
 public:
  RewardTracker(SpotSamplingTaskPtr task, RewardMode mode);

  // Forget all picks (marginal: a new episode; faithful: a new round).
  void clear();
  // Add one spot (not yet added since clear()). Marginal: returns the gain of each term.
  // Faithful: accumulates the round and returns zeros (read value() when the round closes).
  RewardTerms add(int64_t spot);
  // Marginal: V(S) of the cumulative set. Faithful: the reference's R(S_t) of the round so far.
  RewardTerms value() const;
  int64_t size() const { return count_; }

 private:
  RewardTerms marginal_value() const;
  RewardTerms faithful_value() const;

  SpotSamplingTaskPtr task_;
  RewardMode mode_;
  int64_t count_ = 0;
  std::vector<uint8_t> cluster_hit_;
  int64_t clusters_hit_ = 0;
  std::vector<int64_t> type_count_;
  double sum_nlogn_ = 0.0;           // sum over types of n log n (marginal entropy)
  std::vector<double> cover_;        // per spot: (normalised) distance to its nearest pick
  double cover_sum_ = 0.0;
  std::vector<std::vector<int64_t>> picks_;  // marginal: per section; faithful: picks_[0]
  double pair_sum_ = 0.0;            // sum of distances over ordered pairs of picks
  double pair_count_ = 0.0;          // marginal: ordered same-section pairs i != j
};

}  // namespace stx::envs

#include <stx/envs/reward.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include <c10/util/Exception.h>

namespace stx::envs {
namespace {
inline double nlogn(double n) { return n > 0 ? n * std::log(n) : 0.0; }
// The published code's epsilon in p log(p + eps) and log(#observed types + eps).
constexpr double kRefEps = 1e-9;
}  // namespace

RewardTracker::RewardTracker(SpotSamplingTaskPtr task, RewardMode mode) : task_(std::move(task)), mode_(mode) {
  TORCH_CHECK(task_ != nullptr, "RewardTracker: task must not be null");
  clear();
}

void RewardTracker::clear() {
  const auto n = static_cast<size_t>(task_->num_spots());
  count_ = 0;
  cluster_hit_.assign(static_cast<size_t>(task_->num_clusters()), 0);
  clusters_hit_ = 0;
  type_count_.assign(static_cast<size_t>(task_->num_types()), 0);
  sum_nlogn_ = 0.0;
  if (mode_ == RewardMode::kMarginal) {
    // Normalised coverage distance, capped at 1 (= a section diameter) while a section has no pick.
    cover_.assign(n, 1.0);
    cover_sum_ = static_cast<double>(n);
    picks_.assign(static_cast<size_t>(task_->num_sections()), {});
  } else {
    cover_.assign(n, std::numeric_limits<double>::infinity());
    cover_sum_ = 0.0;
    picks_.assign(1, {});
  }
  pair_sum_ = 0.0;
  pair_count_ = 0.0;
}

RewardTerms RewardTracker::add(int64_t spot) {
  TORCH_CHECK(spot >= 0 && spot < task_->num_spots(), "RewardTracker::add: spot ", spot, " out of range");
  const RewardTerms before = mode_ == RewardMode::kMarginal ? marginal_value() : RewardTerms{};
  const auto& xs = task_->x();
  const auto& ys = task_->y();
  const double xi = xs[spot], yi = ys[spot];
  auto dist = [&](int64_t j) {
    const double dx = xs[j] - xi, dy = ys[j] - yi;
    return std::sqrt(dx * dx + dy * dy);
  };
  const int64_t c = task_->cluster_of()[spot];
  if (!cluster_hit_[c]) cluster_hit_[c] = 1, ++clusters_hit_;
  const int64_t t = task_->type_of()[spot];
  const double nt = static_cast<double>(type_count_[t]++);
  sum_nlogn_ += nlogn(nt + 1) - nlogn(nt);

  if (mode_ == RewardMode::kMarginal) {
    const int64_t s = task_->section_of()[spot];
    const double diam = task_->section_diameter()[s];
    auto& picks = picks_[s];
    for (int64_t j : picks) pair_sum_ += 2.0 * dist(j) / diam;
    pair_count_ += 2.0 * static_cast<double>(picks.size());
    picks.push_back(spot);
    for (int64_t j : task_->section_spots()[s]) {
      const double d = std::min(1.0, dist(j) / diam);
      if (d < cover_[j]) cover_sum_ += d - cover_[j], cover_[j] = d;
    }
  } else {
    // The reference pools all sections in one frame: distances to every spot.
    auto& picks = picks_[0];
    for (int64_t j : picks) pair_sum_ += 2.0 * dist(j);
    picks.push_back(spot);
    double sum = 0.0;
    for (int64_t j = 0; j < task_->num_spots(); ++j) sum += (cover_[j] = std::min(cover_[j], dist(j)));
    cover_sum_ = sum;
  }
  ++count_;
  if (mode_ != RewardMode::kMarginal) return {};
  const RewardTerms after = marginal_value();
  return {after.sc - before.sc, after.type - before.type, after.spatial - before.spatial};
}

RewardTerms RewardTracker::value() const {
  return mode_ == RewardMode::kMarginal ? marginal_value() : faithful_value();
}

RewardTerms RewardTracker::marginal_value() const {
  RewardTerms v;
  v.sc = static_cast<double>(clusters_hit_) / static_cast<double>(task_->num_clusters());
  if (count_ > 0 && task_->num_types() > 1) {
    const double n = static_cast<double>(count_);
    const double entropy = std::log(n) - sum_nlogn_ / n;
    v.type = entropy / std::log(static_cast<double>(task_->num_types()));
  }
  const double within = pair_count_ > 0 ? pair_sum_ / pair_count_ : 0.0;
  v.spatial = 0.5 * (within - cover_sum_ / static_cast<double>(task_->num_spots()));
  return v;
}

RewardTerms RewardTracker::faithful_value() const {
  RewardTerms v;
  if (count_ == 0) return v;
  const double k = static_cast<double>(count_);
  v.sc = static_cast<double>(clusters_hit_) / static_cast<double>(task_->num_clusters());
  double entropy = 0.0;
  int64_t observed = 0;
  for (int64_t cnt : type_count_) {
    if (cnt == 0) continue;
    const double p = static_cast<double>(cnt) / k;
    entropy -= p * std::log(p + kRefEps);
    ++observed;
  }
  v.type = entropy / std::log(static_cast<double>(observed) + kRefEps);
  if (count_ >= 2) {
    const double within = pair_sum_ / (k * k);  // k x k pairs, zero diagonal included
    const double cover = cover_sum_ / static_cast<double>(task_->num_spots());
    v.spatial = 0.5 * (within + cover);  // the reference adds d_cover
  }
  return v;
}

}  // namespace stx::envs

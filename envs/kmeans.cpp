#include "envs/kmeans.h"

#include <random>
#include <vector>

#include <ATen/ATen.h>

#include "envs/nearest.h"

namespace stx::envs::detail {
namespace {

// k-means++: each next centre is drawn with probability proportional to the squared distance
// to the nearest centre so far.
at::Tensor seed_centres(const at::Tensor& x, int64_t k, std::mt19937_64& rng) {
  const int64_t m = x.size(0);
  std::vector<int64_t> chosen;
  chosen.reserve(k);
  chosen.push_back(static_cast<int64_t>(rng() % static_cast<uint64_t>(m)));
  auto mind = (x - x[chosen[0]]).pow(2).sum(1).to(at::kDouble).contiguous();
  std::uniform_real_distribution<double> unif(0.0, 1.0);
  while (static_cast<int64_t>(chosen.size()) < k) {
    const double* d = mind.data_ptr<double>();
    double total = 0.0;
    for (int64_t i = 0; i < m; ++i) total += d[i];
    int64_t pick = m - 1;
    if (total > 0.0) {
      double r = unif(rng) * total, acc = 0.0;
      for (int64_t i = 0; i < m; ++i) {
        acc += d[i];
        if (acc >= r && d[i] > 0.0) { pick = i; break; }
      }
    } else {  // all remaining points coincide with centres: any point will do
      pick = static_cast<int64_t>(rng() % static_cast<uint64_t>(m));
    }
    chosen.push_back(pick);
    at::minimum_out(mind, mind, (x - x[pick]).pow(2).sum(1).to(at::kDouble));
  }
  return x.index_select(0, at::tensor(chosen, at::kLong)).clone();
}

}  // namespace

at::Tensor kmeans(const at::Tensor& points, int64_t k, int64_t iterations, uint64_t seed) {
  auto x = points.to(at::kFloat).contiguous();
  TORCH_CHECK(k >= 1 && k <= x.size(0), "kmeans: k must be in [1, ", x.size(0), "], got ", k);
  std::mt19937_64 rng(seed);
  auto centres = seed_centres(x, k, rng);
  at::Tensor assign;
  for (int64_t it = 0; it < iterations; ++it) {
    auto next = nearest_l2(x, centres);
    if (assign.defined() && at::equal(next, assign)) break;
    assign = next;
    auto sums = at::zeros_like(centres).index_add_(0, assign, x);
    auto counts = at::zeros({k}, x.options()).index_add_(0, assign, at::ones({x.size(0)}, x.options()));
    auto nonempty = counts.gt(0).unsqueeze(1);
    // An empty cluster keeps its centre (it may win points back later).
    centres = at::where(nonempty, sums / counts.clamp_min(1).unsqueeze(1), centres);
  }
  return centres;
}

}  // namespace stx::envs::detail

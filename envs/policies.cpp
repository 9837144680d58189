#include <stx/envs/policies.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include "envs/kmeans.h"
#include "envs/nearest.h"

namespace stx::envs {
namespace {

using Picks = std::vector<int64_t>;

std::vector<int64_t> available_spots(const SpotSamplingEnv& env) {
  std::vector<int64_t> out;
  for (int64_t i = 0; i < env.num_spots(); ++i)
    if (env.action_mask()[i]) out.push_back(i);
  return out;
}

// Column-standardised observation features (the policies' feature space).
at::Tensor standardised_features(const SpotSamplingTask& task) {
  const auto& f = task.features();
  return ((f - f.mean(0)) / f.std(0).clamp_min(1e-6)).contiguous();
}

Picks pick_random(const std::vector<int64_t>& avail, int64_t count, std::mt19937_64& rng) {
  Picks p = avail;
  std::shuffle(p.begin(), p.end(), rng);
  p.resize(static_cast<size_t>(count));
  return p;
}

// Greedy farthest-first traversal: repeatedly take the available spot farthest from every pick
// so far (already-sampled spots count as picks). dist(i, j) must be symmetric and >= 0.
template <typename Score>
Picks farthest_first(const SpotSamplingEnv& env, int64_t count, std::vector<double> mind, Score score) {
  const int64_t n = env.num_spots();
  std::vector<uint8_t> usable(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) usable[i] = env.action_mask()[i] != 0;
  Picks picks;
  while (static_cast<int64_t>(picks.size()) < count) {
    int64_t best = -1;
    double best_v = -1.0;
    for (int64_t i = 0; i < n; ++i)
      if (usable[i] && score(i, mind[i]) > best_v) best_v = score(i, mind[i]), best = i;
    picks.push_back(best);
    usable[best] = 0;
    score.update(best, mind);
  }
  return picks;
}

struct FeatureCover {  // k-center in feature space
  at::Tensor x;
  double operator()(int64_t, double m) const { return m; }
  void update(int64_t j, std::vector<double>& mind) const {
    auto d = (x - x[j]).pow(2).sum(1).sqrt().to(at::kDouble).contiguous();
    const double* dp = d.data_ptr<double>();
    for (size_t i = 0; i < mind.size(); ++i) mind[i] = std::min(mind[i], dp[i]);
  }
};

struct DensitySpread {  // spatial spread (per section, unit coordinates) weighted by density
  const SpotSamplingTask* task;
  std::vector<double> density;
  double operator()(int64_t i, double m) const { return density[i] * m; }
  void update(int64_t j, std::vector<double>& mind) const {
    const float* u = task->unit_coords().data_ptr<float>();
    for (int64_t i : task->section_spots()[task->section_of()[j]]) {
      const double dx = u[2 * i] - u[2 * j], dy = u[2 * i + 1] - u[2 * j + 1];
      mind[i] = std::min(mind[i], std::sqrt(dx * dx + dy * dy));
    }
  }
};

Picks pick_kcenter(const SpotSamplingEnv& env, int64_t count) {
  FeatureCover cover{standardised_features(env.task())};
  const int64_t n = env.num_spots();
  std::vector<double> mind(static_cast<size_t>(n), std::numeric_limits<double>::infinity());
  bool any = false;
  for (int64_t i = 0; i < n; ++i)
    if (env.sampled()[i]) cover.update(i, mind), any = true;
  if (any) return farthest_first(env, count, std::move(mind), cover);
  // No centre yet: start from the available spot nearest the feature mean (the origin).
  auto d = cover.x.pow(2).sum(1).to(at::kDouble).contiguous();
  int64_t first = -1;
  for (int64_t i = 0; i < n; ++i)
    if (env.action_mask()[i] && (first < 0 || d.data_ptr<double>()[i] < d.data_ptr<double>()[first])) first = i;
  cover.update(first, mind);
  mind[first] = -1.0;  // never picked twice: farthest_first only takes scores above -1
  Picks picks{first};
  if (count == 1) return picks;
  for (int64_t i : farthest_first(env, count - 1, std::move(mind), cover)) picks.push_back(i);
  return picks;
}

Picks pick_density(const SpotSamplingEnv& env, int64_t count) {
  const auto& task = env.task();
  auto x = standardised_features(task);
  const int64_t n = task.num_spots(), nn = std::min<int64_t>(10, n - 1);
  std::vector<double> density(static_cast<size_t>(n), 1.0);
  if (nn >= 1) {
    for (int64_t s = 0; s < n; s += 2048) {  // mean distance to the nn nearest neighbours
      auto chunk = x.slice(0, s, std::min(n, s + 2048));
      auto nearest = std::get<0>(at::cdist(chunk, x).topk(nn + 1, 1, false));  // includes the spot itself
      auto knn = nearest.slice(1, 1).mean(1).to(at::kDouble).contiguous();
      for (int64_t i = 0; i < knn.size(0); ++i) density[s + i] = 1.0 / (1e-6 + knn.data_ptr<double>()[i]);
    }
  }
  DensitySpread spread{&task, std::move(density)};
  std::vector<double> mind(static_cast<size_t>(n), 2.0);  // > any unit-square distance
  for (int64_t i = 0; i < n; ++i)
    if (env.sampled()[i]) spread.update(i, mind);
  return farthest_first(env, count, std::move(mind), spread);
}

// Lattice points over each section, `count` in all (split by section size), each mapped to the
// nearest still-free available spot.
Picks pick_grid(const SpotSamplingEnv& env, int64_t count, std::mt19937_64& rng) {
  const auto& task = env.task();
  const float* u = task.unit_coords().data_ptr<float>();
  const auto avail = available_spots(env);
  std::vector<uint8_t> usable(static_cast<size_t>(env.num_spots()), 0);
  for (int64_t i : avail) usable[i] = 1;
  const int64_t sections = task.num_sections();
  std::vector<int64_t> per(static_cast<size_t>(sections), 0), share(static_cast<size_t>(sections), 0);
  for (int64_t i : avail) ++per[task.section_of()[i]];
  int64_t given = 0;
  for (int64_t s = 0; s < sections; ++s) given += share[s] = count * per[s] / static_cast<int64_t>(avail.size());
  for (int64_t s = 0; given < count; s = (s + 1) % sections)
    if (share[s] < per[s]) ++share[s], ++given;
  Picks picks;
  for (int64_t s = 0; s < sections; ++s) {
    const int64_t c = share[s];
    if (c == 0) continue;
    const auto g = static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(c))));
    for (int64_t j = 0; j < c; ++j) {
      const int64_t cell = j * g * g / c;  // spread the c points over the g x g lattice
      const double px = (static_cast<double>(cell % g) + 0.5) / g, py = (static_cast<double>(cell / g) + 0.5) / g;
      int64_t best = -1;
      double best_d = std::numeric_limits<double>::infinity();
      for (int64_t i : task.section_spots()[s]) {
        if (!usable[i]) continue;
        const double dx = u[2 * i] - px, dy = u[2 * i + 1] - py, d = dx * dx + dy * dy;
        if (d < best_d) best_d = d, best = i;
      }
      if (best >= 0) picks.push_back(best), usable[best] = 0;
    }
  }
  std::vector<int64_t> rest;  // lattice collisions: fill up at random
  for (int64_t i : avail)
    if (usable[i]) rest.push_back(i);
  std::shuffle(rest.begin(), rest.end(), rng);
  for (size_t j = 0; static_cast<int64_t>(picks.size()) < count; ++j) picks.push_back(rest[j]);
  return picks;
}

Picks pick_kmeans(const SpotSamplingEnv& env, int64_t count, uint64_t seed) {
  const auto avail = available_spots(env);
  auto x = standardised_features(env.task()).index_select(0, at::tensor(avail, at::kLong));
  auto centres = detail::kmeans(x, count, 30, seed);
  // Medoid of each centre: the nearest not-yet-taken available spot.
  auto d = at::cdist(centres, x).to(at::kDouble).contiguous();
  const double* dp = d.data_ptr<double>();
  const auto m = static_cast<int64_t>(avail.size());
  std::vector<uint8_t> taken(static_cast<size_t>(m), 0);
  Picks picks;
  for (int64_t c = 0; c < count; ++c) {
    int64_t best = -1;
    for (int64_t i = 0; i < m; ++i)
      if (!taken[i] && (best < 0 || dp[c * m + i] < dp[c * m + best])) best = i;
    taken[best] = 1;
    picks.push_back(avail[best]);
  }
  return picks;
}

}  // namespace

std::vector<std::string> baseline_policy_names() { return {"random", "grid", "kcenter", "kmeans", "density"}; }

std::vector<int64_t> baseline_select(const SpotSamplingEnv& env, const std::string& policy, int64_t count,
                                     uint64_t seed) {
  const auto avail = available_spots(env);
  TORCH_CHECK(count >= 0 && count <= static_cast<int64_t>(avail.size()), "count must be in [0, ", avail.size(),
              "] (the available spots), got ", count);
  std::mt19937_64 rng(seed);
  if (count == 0) return {};
  if (policy == "random") return pick_random(avail, count, rng);
  if (policy == "grid") return pick_grid(env, count, rng);
  if (policy == "kcenter") return pick_kcenter(env, count);
  if (policy == "kmeans") return pick_kmeans(env, count, seed);
  if (policy == "density") return pick_density(env, count);
  TORCH_CHECK(false, "policy must be one of random, grid, kcenter, kmeans, density; got \"", policy, "\"");
}

double run_baseline_episode(SpotSamplingEnv& env, const std::string& policy, uint64_t seed) {
  env.reset(seed);
  const auto plan = baseline_select(env, policy, env.spots_left(), seed);
  double total = 0.0;
  size_t next = 0;
  while (!env.done()) {
    const auto k = static_cast<size_t>(env.picks_this_step());
    total += env.step(std::vector<int64_t>(plan.begin() + next, plan.begin() + next + k)).reward;
    next += k;
  }
  return total;
}

at::Tensor gumbel_topk(const at::Tensor& logits, const at::Tensor& mask, int64_t k, uint64_t seed) {
  TORCH_CHECK(logits.defined() && (logits.dim() == 1 || logits.dim() == 2) && at::isFloatingType(logits.scalar_type()),
              "logits must be a floating [N] or [B, N] tensor, got ",
              logits.defined() ? logits.sizes() : at::IntArrayRef{});
  TORCH_CHECK(mask.defined() && mask.sizes() == logits.sizes(), "mask must have the shape of logits ", logits.sizes(),
              ", got ", mask.defined() ? mask.sizes() : at::IntArrayRef{});
  auto l = logits.to(at::kDouble).cpu().reshape({-1, logits.size(-1)});
  auto valid = mask.cpu().ne(0).reshape(l.sizes());
  const int64_t fewest = valid.sum(1).min().item<int64_t>();
  TORCH_CHECK(k >= 0 && k <= fewest, "k must be in [0, ", fewest, "] (valid entries in the sparsest row), got ", k);
  TORCH_CHECK(at::isfinite(l.masked_select(valid)).all().item<bool>(), "logits must be finite where mask is set");
  auto gen = at::detail::createCPUGenerator(seed);
  auto u = at::rand(l.sizes(), gen, at::TensorOptions().dtype(at::kDouble)).clamp_(1e-300, 1.0);
  auto keys = (l - u.log().neg().log()).masked_fill(valid.logical_not(), -std::numeric_limits<double>::infinity());
  auto idx = std::get<1>(keys.topk(k, 1));
  return logits.dim() == 1 ? idx.reshape({k}) : idx;
}

}  // namespace stx::envs

#pragma once
// Baseline sampling policies. Each sees only what the agent sees (observation features,
// coordinates, the sampled mask) and returns `count` available spots in the order it picks them.
#include <cstdint>
#include <string>
#include <vector>

#include <ATen/Tensor.h>

#include <stx/envs/spot_sampling_env.h>

namespace stx::envs {

// "random", "grid" (fixed lattice per section), "kcenter" (greedy coreset in feature space),
// "kmeans" (medoids of k-means in feature space), "density" (spatial farthest-point sampling
// weighted by local feature density).
STX_API std::vector<std::string> baseline_policy_names();
STX_API std::vector<int64_t> baseline_select(const SpotSamplingEnv& env, const std::string& policy,
                                             int64_t count, uint64_t seed = 0);

// Runs one episode of a baseline policy (planned at reset) and returns its total reward.
STX_API double run_baseline_episode(SpotSamplingEnv& env, const std::string& policy, uint64_t seed);

// Gumbel-top-k: k distinct indices of each row of logits [B, N] (or [N]) among mask != 0,
// distributed as sequential sampling without replacement from softmax(logits).
STX_API at::Tensor gumbel_topk(const at::Tensor& logits, const at::Tensor& mask, int64_t k, uint64_t seed);

}  // namespace stx::envs

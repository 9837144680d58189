#pragma once
// Plain data and configuration of the spot-sampling environment (see docs/envs.md).
#include <cstdint>
#include <stdexcept>
#include <string>

#include <ATen/Tensor.h>

#include <stx/stx.h>

namespace stx::envs {

// "marginal": each step is rewarded with the gain of the cumulative sampled set (per-section
// spatial terms, coverage distance as a penalty). "faithful": the published SCRL code's
// per-round rewards (random first round S0, then rounds of int(N*(rho/3)) spots, reward on the
// round's picks only, d_cover added, Pielou evenness over the observed types).
enum class RewardMode { kMarginal, kFaithful };

STX_API RewardMode parse_reward_mode(const std::string& name);
STX_API std::string reward_mode_name(RewardMode mode);

// What step() does with an invalid action (out of range, masked, repeated, wrong number of picks):
// "raise" throws and leaves the state unchanged; "penalize" answers with a no-op step (nothing is
// sampled, the step counts towards max_steps) rewarded -invalid_penalty and flagged in the result,
// which is what RL libraries and the standard env checkers expect of a random action.
enum class InvalidAction { kRaise, kPenalize };

STX_API InvalidAction parse_invalid_action(const std::string& name);
STX_API std::string invalid_action_name(InvalidAction action);

// Cell types and labels index per-env count tables: more than this many types is rejected before
// anything is allocated (real references have hundreds).
constexpr int64_t kMaxCellTypes = int64_t{1} << 20;

// Thrown when one env (or vector env) is stepped or reset from a second thread while a first one
// is inside it. An env is not thread-safe: give each thread its own env.
class STX_API ConcurrentUseError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// N candidate spots, pooled over one or several tissue sections.
struct Section {
  at::Tensor features;          // [N, F] floating: what the policy sees (e.g. image embeddings)
  at::Tensor coords;            // [N, 2] floating: spot positions, any unit, per-section frame
  at::Tensor section_id;        // [N] integer >= 0; undefined = one section
  at::Tensor reward_embedding;  // [N, D] floating: expression embedding, seen by the reward only
};

// Single-cell reference in the same embedding space as Section::reward_embedding.
struct SingleCellReference {
  at::Tensor embeddings;      // [M, D] floating
  at::Tensor cell_types;      // [M] integer in [0, num_types)
  int64_t num_types = 0;      // 0: max(cell_types) + 1
  at::Tensor cluster_labels;  // optional [M] integer: pre-computed clusters (skips k-means)
};

struct PriorOptions {
  int64_t pca_components = 50;      // clipped to D
  int64_t num_clusters = 1000;      // clipped to M
  int64_t kmeans_iterations = 50;
  int64_t kmeans_max_points = 20000;  // Lloyd runs on a seeded subsample of at most this many cells
  uint64_t seed = 0;
};

struct RewardWeights {
  double sc = 20.0;        // single-cell cluster coverage
  double type = 5.0;       // cell-type diversity
  double spatial = 0.05;   // dispersion / coverage of the section
};

struct EnvConfig {
  double budget_ratio = 0.1;  // rho: the episode samples floor(rho * N) spots (faithful: 3 rounds)
  RewardMode mode = RewardMode::kMarginal;
  RewardWeights weights;
  int64_t picks_per_step = 1;  // k spots per step (the last step of a round/budget may take fewer)
  int64_t max_steps = 0;       // > 0: truncate after this many steps
  bool exclude_initial = true;  // faithful: S0 is masked (false = the reference code's quirk)
  InvalidAction invalid_action = InvalidAction::kRaise;
  double invalid_penalty = 1.0;  // "penalize": the reward of an invalid action is -invalid_penalty
};

// Unweighted reward terms of one step (marginal: gains; faithful: the round's terms or 0).
struct RewardTerms {
  double sc = 0.0;
  double type = 0.0;
  double spatial = 0.0;
};

struct StepResult {
  double reward = 0.0;
  bool terminated = false;
  bool truncated = false;
  bool round_complete = false;  // faithful: this step closed a round
  bool invalid_action = false;  // "penalize": the action was invalid and nothing was sampled
  RewardTerms terms;
};

}  // namespace stx::envs

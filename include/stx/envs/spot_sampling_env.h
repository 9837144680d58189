#pragma once
// SpotSamplingEnv: pick not-yet-sampled spots of a section until the budget is spent.
// Observation (fixed shapes): task features [N, F] float32 and unit coordinates [N, 2], the
// sampled mask [N] int8, the action mask [N] int8 and the fraction of the budget left.
#include <atomic>
#include <cstdint>
#include <optional>
#include <random>
#include <vector>

#include <stx/envs/reward.h>

namespace stx::envs {

// Episode length in spots and (faithful) the round size, validated against N.
struct Budget {
  int64_t total = 0;       // spots sampled in an episode (faithful: including S0)
  int64_t round_size = 0;  // faithful: int(N * (rho / 3)) (see faithful_round_size); marginal: == total
  int64_t initial = 0;     // spots drawn at random by reset (faithful: S0)
};
STX_API Budget compute_budget(int64_t num_spots, const EnvConfig& config);
// The published code's round size int(N * (rho / 3)), bit for bit: the per-round ratio rho / 3 is
// rounded to a double first, then N times it is truncated.
STX_API int64_t faithful_round_size(int64_t num_spots, double budget_ratio);

class STX_API SpotSamplingEnv {
 public:
  // sampled / action_mask: optional external [N] int8 buffers (a vector env's batch rows).
  SpotSamplingEnv(SpotSamplingTaskPtr task, EnvConfig config, uint64_t seed = 0,
                  int8_t* sampled = nullptr, int8_t* action_mask = nullptr);
  SpotSamplingEnv(const SpotSamplingEnv&) = delete;
  SpotSamplingEnv& operator=(const SpotSamplingEnv&) = delete;

  // Start an episode; a seed re-seeds the env's generator (otherwise it continues).
  void reset(std::optional<uint64_t> seed = std::nullopt);
  // Sample one spot / a set of spots. An out-of-range, masked or repeated action or a wrong number
  // of picks throws (state unchanged), or with InvalidAction::kPenalize is a flagged no-op step
  // rewarded -invalid_penalty. A step after the episode ended always throws. reset() and step()
  // throw ConcurrentUseError when another thread is inside this env.
  StepResult step(int64_t action);
  StepResult step(const std::vector<int64_t>& actions);
  // The checks step() runs before touching any state (throws c10::Error naming the action).
  void check_actions(const std::vector<int64_t>& actions) const;

  const SpotSamplingTask& task() const { return *task_; }
  const SpotSamplingTaskPtr& task_ptr() const { return task_; }
  const EnvConfig& config() const { return config_; }
  const Budget& budget() const { return budget_; }
  int64_t num_spots() const { return task_->num_spots(); }
  const int8_t* sampled() const { return sampled_; }
  const int8_t* action_mask() const { return action_mask_; }
  int64_t spots_left() const { return budget_.total - picked_; }
  float budget_left_fraction() const;
  // Picks the next step must contain: min(k, spots left in the round / budget).
  int64_t picks_this_step() const;
  int64_t elapsed_steps() const { return steps_; }
  bool done() const { return done_; }
  // Spots sampled so far, in order (faithful: S0 first).
  const std::vector<int64_t>& history() const { return history_; }
  // Faithful: terms of the random round S0 drawn by the last reset (zeros in marginal mode).
  const RewardTerms& initial_terms() const { return initial_terms_; }
  std::mt19937_64& generator() { return rng_; }

 private:
  double weighted(const RewardTerms& terms) const;
  void check_running() const;
  void check_picks(const std::vector<int64_t>& actions) const;
  StepResult finish_step(StepResult r);  // counts the step, sets terminated / truncated / done

  SpotSamplingTaskPtr task_;
  EnvConfig config_;
  Budget budget_;
  std::mt19937_64 rng_;
  std::vector<int8_t> own_sampled_, own_mask_;
  int8_t* sampled_;
  int8_t* action_mask_;
  RewardTracker tracker_;
  std::vector<int64_t> history_;
  RewardTerms initial_terms_;
  int64_t picked_ = 0;        // spots counted against the budget (faithful: including S0)
  int64_t round_picked_ = 0;  // faithful: picks in the current round
  int64_t steps_ = 0;
  bool done_ = true;
  std::atomic<bool> busy_{false};  // a thread is inside reset() / step()
};

}  // namespace stx::envs

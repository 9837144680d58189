#include <stx/envs/spot_sampling_env.h>

#include <algorithm>
#include <cmath>

#include <c10/util/Exception.h>

#include "envs/exclusive_use.h"

namespace stx::envs {

RewardMode parse_reward_mode(const std::string& name) {
  if (name == "marginal") return RewardMode::kMarginal;
  if (name == "faithful") return RewardMode::kFaithful;
  TORCH_CHECK(false, "reward mode must be \"marginal\" or \"faithful\", got \"", name, "\"");
}

std::string reward_mode_name(RewardMode mode) { return mode == RewardMode::kMarginal ? "marginal" : "faithful"; }

InvalidAction parse_invalid_action(const std::string& name) {
  if (name == "raise") return InvalidAction::kRaise;
  if (name == "penalize") return InvalidAction::kPenalize;
  TORCH_CHECK(false, "invalid_action must be \"raise\" or \"penalize\", got \"", name, "\"");
}

std::string invalid_action_name(InvalidAction action) {
  return action == InvalidAction::kRaise ? "raise" : "penalize";
}

int64_t faithful_round_size(int64_t n, double budget_ratio) {
  // The published code's per-round ratio rho / 3 is a double first; N times it is truncated. Bit for
  // bit that is one spot less than floor(N * rho / 3) when the product lands just below an integer
  // (e.g. N = 120, rho = 0.3: 120 * 0.09999999999999999 = 11.999999999999998 -> 11). Where that is 0
  // the reference takes max(1, .): one spot per round.
  const double per_round = budget_ratio / 3.0;
  return std::max<int64_t>(1, static_cast<int64_t>(static_cast<double>(n) * per_round));
}

Budget compute_budget(int64_t n, const EnvConfig& cfg) {
  TORCH_CHECK(n >= 1, "the section must have at least one spot, got N=", n);
  TORCH_CHECK(std::isfinite(cfg.budget_ratio) && cfg.budget_ratio > 0.0 && cfg.budget_ratio <= 1.0,
              "budget_ratio must be in (0, 1], got ", cfg.budget_ratio);
  // The small epsilon keeps e.g. 0.1 * 400 at 40 despite binary rounding.
  const auto spots = static_cast<int64_t>(std::floor(cfg.budget_ratio * static_cast<double>(n) + 1e-9));
  TORCH_CHECK(spots >= 1, "budget_ratio=", cfg.budget_ratio, " gives a budget of 0 spots for N=", n,
              " (need floor(budget_ratio * N) >= 1)");
  Budget b;
  if (cfg.mode == RewardMode::kMarginal) {
    b.total = b.round_size = spots;
  } else {
    // The reference's round size (see faithful_round_size): a random round S0, then two RL rounds.
    b.round_size = faithful_round_size(n, cfg.budget_ratio);
    b.total = 3 * b.round_size;
    b.initial = b.round_size;
    TORCH_CHECK(b.total <= n, "budget_ratio=", cfg.budget_ratio, " needs 3 rounds of ", b.round_size,
                " spots, more than N=", n);
  }
  TORCH_CHECK(cfg.picks_per_step >= 1 && cfg.picks_per_step <= b.round_size, "picks_per_step must be in [1, ",
              b.round_size, "] (the ", cfg.mode == RewardMode::kMarginal ? "budget" : "round size", "), got ",
              cfg.picks_per_step);
  TORCH_CHECK(cfg.max_steps >= 0, "max_steps must be >= 0 (0 = no time limit), got ", cfg.max_steps);
  for (double w : {cfg.weights.sc, cfg.weights.type, cfg.weights.spatial})
    TORCH_CHECK(std::isfinite(w), "reward weights must be finite, got ", w);
  TORCH_CHECK(std::isfinite(cfg.invalid_penalty) && cfg.invalid_penalty >= 0,
              "invalid_penalty must be finite and >= 0, got ", cfg.invalid_penalty);
  return b;
}

SpotSamplingEnv::SpotSamplingEnv(SpotSamplingTaskPtr task, EnvConfig config, uint64_t seed, int8_t* sampled,
                                 int8_t* action_mask)
    : task_(std::move(task)),
      config_(config),
      budget_(compute_budget(task_ ? task_->num_spots() : 0, config_)),
      rng_(seed),
      tracker_(task_, config_.mode) {
  TORCH_CHECK((sampled == nullptr) == (action_mask == nullptr),
              "SpotSamplingEnv: pass both external buffers (sampled, action_mask) or neither");
  const auto n = static_cast<size_t>(task_->num_spots());
  if (sampled == nullptr) {
    own_sampled_.assign(n, 0);
    own_mask_.assign(n, 0);
    sampled = own_sampled_.data();
    action_mask = own_mask_.data();
  }
  sampled_ = sampled;
  action_mask_ = action_mask;
  std::fill(sampled_, sampled_ + n, int8_t{0});
  std::fill(action_mask_, action_mask_ + n, int8_t{0});  // nothing is valid before reset()
}

void SpotSamplingEnv::reset(std::optional<uint64_t> seed) {
  const detail::ExclusiveUse claim(busy_, "SpotSamplingEnv");
  if (seed) rng_.seed(*seed);
  const int64_t n = task_->num_spots();
  std::fill(sampled_, sampled_ + n, int8_t{0});
  std::fill(action_mask_, action_mask_ + n, int8_t{1});
  tracker_.clear();
  history_.clear();
  initial_terms_ = {};
  picked_ = round_picked_ = steps_ = 0;
  done_ = false;
  if (budget_.initial > 0) {
    // S0: a uniform random subset (partial Fisher-Yates over the spot indices).
    std::vector<int64_t> idx(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i) idx[i] = i;
    for (int64_t i = 0; i < budget_.initial; ++i) {
      std::uniform_int_distribution<int64_t> pick(i, n - 1);
      std::swap(idx[i], idx[pick(rng_)]);
      const int64_t s = idx[i];
      sampled_[s] = 1;
      if (config_.exclude_initial) action_mask_[s] = 0;
      history_.push_back(s);
      tracker_.add(s);
    }
    initial_terms_ = tracker_.value();
    tracker_.clear();
    picked_ = budget_.initial;
  }
}

int64_t SpotSamplingEnv::picks_this_step() const {
  return std::min(config_.picks_per_step, budget_.round_size - round_picked_);
}

float SpotSamplingEnv::budget_left_fraction() const {
  return static_cast<float>(budget_.total - picked_) / static_cast<float>(budget_.total);
}

double SpotSamplingEnv::weighted(const RewardTerms& t) const {
  return config_.weights.sc * t.sc + config_.weights.type * t.type + config_.weights.spatial * t.spatial;
}

void SpotSamplingEnv::check_actions(const std::vector<int64_t>& actions) const {
  check_running();
  check_picks(actions);
}

void SpotSamplingEnv::check_running() const {
  TORCH_CHECK(!done_, "step() called on an episode that has ended (or was never reset); call reset() first");
}

void SpotSamplingEnv::check_picks(const std::vector<int64_t>& actions) const {
  const int64_t want = picks_this_step();
  TORCH_CHECK(static_cast<int64_t>(actions.size()) == want, "action must pick exactly ", want,
              " spot(s) at this step, got ", actions.size());
  const int64_t n = task_->num_spots();
  for (size_t i = 0; i < actions.size(); ++i) {
    const int64_t a = actions[i];
    TORCH_CHECK(a >= 0 && a < n, "action ", a, " is out of range [0, ", n, ")");
    TORCH_CHECK(action_mask_[a] != 0, "action ", a, " is masked (spot already sampled)");
    for (size_t j = 0; j < i; ++j) TORCH_CHECK(actions[j] != a, "action ", a, " is repeated within one step");
  }
}

StepResult SpotSamplingEnv::step(int64_t action) { return step(std::vector<int64_t>{action}); }

StepResult SpotSamplingEnv::step(const std::vector<int64_t>& actions) {
  const detail::ExclusiveUse claim(busy_, "SpotSamplingEnv");
  check_running();
  if (config_.invalid_action == InvalidAction::kRaise) {
    check_picks(actions);  // throws before any state changes
  } else {
    try {
      check_picks(actions);
    } catch (const c10::Error&) {
      StepResult noop;
      noop.reward = -config_.invalid_penalty;
      noop.invalid_action = true;
      return finish_step(noop);
    }
  }
  StepResult r;
  for (int64_t a : actions) {
    sampled_[a] = 1;
    action_mask_[a] = 0;
    history_.push_back(a);
    const RewardTerms gain = tracker_.add(a);
    r.terms.sc += gain.sc, r.terms.type += gain.type, r.terms.spatial += gain.spatial;
  }
  picked_ += static_cast<int64_t>(actions.size());
  round_picked_ += static_cast<int64_t>(actions.size());
  if (config_.mode == RewardMode::kFaithful && round_picked_ == budget_.round_size) {
    r.terms = tracker_.value();  // the reference rewards each round on its own picks
    r.round_complete = true;
    tracker_.clear();
    round_picked_ = 0;
  }
  r.reward = weighted(r.terms);
  return finish_step(r);
}

StepResult SpotSamplingEnv::finish_step(StepResult r) {
  ++steps_;
  r.terminated = picked_ >= budget_.total;
  r.truncated = !r.terminated && config_.max_steps > 0 && steps_ >= config_.max_steps;
  done_ = r.terminated || r.truncated;
  return r;
}

}  // namespace stx::envs

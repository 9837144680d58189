// The spot-sampling environment through its C++ API only (no Python).
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <stx/envs/envs.h>

using namespace stx::envs;

namespace {

SpotSamplingTaskPtr small_task(int64_t spots = 120, int64_t sections = 2) {
  SyntheticOptions o;
  o.num_spots = spots;
  o.num_sections = sections;
  o.seed = 1;
  o.section_seed = 2;
  auto data = make_synthetic(o);
  PriorOptions p;
  p.num_clusters = 24;
  p.pca_components = 8;
  return SpotSamplingTask::create(data.section, SingleCellPrior::build(data.reference, p));
}

EnvConfig config(RewardMode mode, double rho = 0.1) {
  EnvConfig c;
  c.mode = mode;
  c.budget_ratio = rho;
  return c;
}

int64_t first_valid(const SpotSamplingEnv& env, int64_t skip = 0) {
  for (int64_t i = 0; i < env.num_spots(); ++i)
    if (env.action_mask()[i] && skip-- == 0) return i;
  return -1;
}

}  // namespace

TEST(EnvBudget, FollowsModeAndRejectsBadRatios) {
  auto b = compute_budget(400, config(RewardMode::kMarginal, 0.1));
  EXPECT_EQ(b.total, 40);
  EXPECT_EQ(b.initial, 0);
  b = compute_budget(400, config(RewardMode::kFaithful, 0.25));
  EXPECT_EQ(b.round_size, 33);
  EXPECT_EQ(b.total, 99);
  EXPECT_EQ(b.initial, 33);
  EXPECT_THROW(compute_budget(400, config(RewardMode::kMarginal, 0.0)), c10::Error);
  EXPECT_THROW(compute_budget(400, config(RewardMode::kMarginal, 1.01)), c10::Error);
  EXPECT_THROW(compute_budget(5, config(RewardMode::kMarginal, 0.1)), c10::Error);  // budget 0
  EXPECT_THROW(compute_budget(0, config(RewardMode::kMarginal, 0.5)), c10::Error);
  EXPECT_THROW(parse_reward_mode("greedy"), c10::Error);
}

// The published code's round size: Python's max(1, int(N * (rho / 3))) (values computed in Python).
TEST(EnvBudget, FaithfulRoundSizeIsTheReferenceValue) {
  EXPECT_EQ(faithful_round_size(120, 0.3), 11);  // floor(120 * 0.3 / 3 + eps) would be 12
  EXPECT_EQ(faithful_round_size(60, 0.3), 5);
  EXPECT_EQ(faithful_round_size(9826, 0.15), 491);
  EXPECT_EQ(faithful_round_size(9810, 0.3), 980);
  EXPECT_EQ(faithful_round_size(15120, 0.15), 755);
  EXPECT_EQ(faithful_round_size(27171, 1.0), 9057);
  EXPECT_EQ(compute_budget(120, config(RewardMode::kFaithful, 0.3)).total, 33);
  EXPECT_EQ(faithful_round_size(10, 0.25), 1);  // int(.) = 0: the reference's max(1, .)
  EXPECT_EQ(compute_budget(10, config(RewardMode::kFaithful, 0.25)).total, 3);  // 3 rounds of 1 spot
  try {
    compute_budget(2, config(RewardMode::kFaithful, 1.0));
    ADD_FAILURE() << "3 rounds of 1 spot cannot fit N = 2";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("needs 3 rounds of 1 spots, more than N=2"), std::string::npos) << e.what();
  }
}

TEST(EnvActions, PenalizeAnswersInvalidActionsWithAFlaggedNoOp) {
  auto task = small_task();
  EnvConfig c = config(RewardMode::kFaithful, 0.3);
  c.invalid_action = InvalidAction::kPenalize;
  c.invalid_penalty = 0.75;
  c.max_steps = 3;
  SpotSamplingEnv env(task, c, 0);
  EXPECT_THROW(env.step(0), c10::Error);  // before reset: a protocol error, never a penalty
  env.reset();
  const int64_t s0 = env.history()[0];
  const std::vector<int8_t> before(env.sampled(), env.sampled() + env.num_spots());
  for (int64_t bad : {s0, int64_t{-1}, env.num_spots()}) {
    auto r = env.step(bad);
    EXPECT_TRUE(r.invalid_action);
    EXPECT_EQ(r.reward, -0.75);
    EXPECT_EQ(std::vector<int8_t>(env.sampled(), env.sampled() + env.num_spots()), before);
  }
  EXPECT_TRUE(env.done());  // the three no-ops used up max_steps
  EXPECT_EQ(env.history().size(), static_cast<size_t>(env.budget().round_size));
  EXPECT_EQ(parse_invalid_action("penalize"), InvalidAction::kPenalize);
  EXPECT_THROW(parse_invalid_action("ignore"), c10::Error);
}

TEST(EnvPrior, CellTypesBeyondTheLimitAreRejected) {
  SyntheticOptions o;
  o.num_spots = 20;
  auto data = make_synthetic(o);
  data.reference.num_types = kMaxCellTypes + 1;
  EXPECT_THROW(SingleCellPrior::build(data.reference, PriorOptions{}), c10::Error);
  o.num_types = int64_t{1} << 40;
  EXPECT_THROW(make_synthetic(o), c10::Error);
}

TEST(EnvSection, RejectsMismatchedAndNonFiniteInput) {
  auto data = make_synthetic({});
  auto prior = SingleCellPrior::build(data.reference, {8, 16, 20, 20000, 0});
  Section s = data.section;
  s.coords = s.coords.slice(0, 1);
  EXPECT_THROW(SpotSamplingTask::create(s, prior), c10::Error);
  s = data.section;
  s.features = s.features.clone();
  s.features[0][0] = NAN;
  EXPECT_THROW(SpotSamplingTask::create(s, prior), c10::Error);
  s = data.section;
  s.features = s.features.slice(0, 0, 0);
  EXPECT_THROW(SpotSamplingTask::create(s, prior), c10::Error);
  EXPECT_THROW(SpotSamplingTask::create(data.section, nullptr), c10::Error);
}

TEST(EnvMarginal, RewardsTelescopeToTheFinalValue) {
  auto task = small_task();
  SpotSamplingEnv env(task, config(RewardMode::kMarginal, 0.2), 3);
  env.reset();
  double total = 0.0;
  RewardTerms sum;
  while (!env.done()) {
    auto r = env.step(first_valid(env, 7));
    total += r.reward;
    sum.sc += r.terms.sc, sum.type += r.terms.type, sum.spatial += r.terms.spatial;
  }
  RewardTracker fresh(task, RewardMode::kMarginal);
  const auto empty = fresh.value();
  for (int64_t s : env.history()) fresh.add(s);
  const auto final_value = fresh.value();
  EXPECT_NEAR(sum.sc, final_value.sc - empty.sc, 1e-12);
  EXPECT_NEAR(sum.type, final_value.type - empty.type, 1e-12);
  EXPECT_NEAR(sum.spatial, final_value.spatial - empty.spatial, 1e-12);
  EXPECT_NEAR(total, 20 * sum.sc + 5 * sum.type + 0.05 * sum.spatial, 1e-9);
  EXPECT_EQ(static_cast<int64_t>(env.history().size()), env.budget().total);
}

TEST(EnvFaithful, RoundsAndInitialRandomRound) {
  auto task = small_task();
  EnvConfig c = config(RewardMode::kFaithful, 0.3);
  c.picks_per_step = 4;
  SpotSamplingEnv env(task, c, 9);
  env.reset();
  const int64_t round = env.budget().round_size;  // int(240 * (0.3 / 3)) = int(23.999999999999996) = 23
  ASSERT_EQ(round, 23);
  EXPECT_EQ(static_cast<int64_t>(env.history().size()), round);
  for (int64_t s : env.history()) EXPECT_EQ(env.action_mask()[s], 0);  // S0 excluded
  int rounds = 0, steps = 0;
  while (!env.done()) {
    std::vector<int64_t> picks;
    for (int64_t j = 0; j < env.picks_this_step(); ++j) picks.push_back(first_valid(env, j));
    auto r = env.step(picks);
    ++steps;
    if (r.round_complete) {
      ++rounds;
      EXPECT_GT(r.terms.sc, 0.0);
    } else {
      EXPECT_EQ(r.reward, 0.0);
    }
  }
  EXPECT_EQ(rounds, 2);
  EXPECT_EQ(steps, 12);
}

TEST(EnvActions, InvalidActionsThrowAndLeaveStateUnchanged) {
  auto task = small_task();
  SpotSamplingEnv env(task, config(RewardMode::kMarginal), 0);
  EXPECT_THROW(env.step(0), c10::Error);  // before reset
  env.reset();
  env.step(5);
  const std::vector<int8_t> before(env.sampled(), env.sampled() + env.num_spots());
  const auto left = env.spots_left();
  EXPECT_THROW(env.step(5), c10::Error);
  EXPECT_THROW(env.step(-1), c10::Error);
  EXPECT_THROW(env.step(env.num_spots()), c10::Error);
  EXPECT_THROW(env.step(std::vector<int64_t>{1, 2}), c10::Error);
  EXPECT_EQ(std::vector<int8_t>(env.sampled(), env.sampled() + env.num_spots()), before);
  EXPECT_EQ(env.spots_left(), left);
  EXPECT_EQ(env.history().size(), 1u);
}

TEST(EnvDeterminism, SameSeedSameEpisode) {
  auto task = small_task();
  auto run = [&](uint64_t seed) {
    SpotSamplingEnv env(task, config(RewardMode::kFaithful, 0.3), 0);
    env.reset(seed);
    std::vector<int64_t> h = env.history();
    h.push_back(static_cast<int64_t>(1e6 * run_baseline_episode(env, "random", seed)));
    return h;
  };
  EXPECT_EQ(run(4), run(4));
  EXPECT_NE(run(4), run(5));
}

TEST(EnvVector, MatchesSingleEnvsWithNextStepAutoreset) {
  auto task = small_task();
  const int64_t m = 4;
  const auto cfg = config(RewardMode::kFaithful, 0.1);
  SpotSamplingVecEnv vec({task}, cfg, m, 50, 2);
  EXPECT_EQ(vec.num_threads(), 2);
  std::vector<std::unique_ptr<SpotSamplingEnv>> singles;
  for (int64_t i = 0; i < m; ++i) singles.push_back(std::make_unique<SpotSamplingEnv>(task, cfg, 50 + i));
  vec.reset();
  for (auto& s : singles) s->reset();
  for (int step = 0; step < 30; ++step) {
    auto actions = at::zeros({m}, at::kLong);
    for (int64_t i = 0; i < m; ++i)
      if (!singles[i]->done()) actions[i] = first_valid(*singles[i], step % 5);
    vec.step(actions);
    for (int64_t i = 0; i < m; ++i) {
      auto& s = *singles[i];
      double reward = 0.0;
      if (s.done()) {
        s.reset();
      } else {
        reward = s.step(actions[i].item<int64_t>()).reward;
      }
      EXPECT_EQ(vec.reward()[i].item<double>(), reward);
      EXPECT_TRUE(at::equal(vec.sampled()[i], at::from_blob(const_cast<int8_t*>(s.sampled()), {s.num_spots()}, at::kChar)));
    }
  }
}

TEST(EnvVector, BadActionTouchesNoEnv) {
  auto task = small_task();
  SpotSamplingVecEnv vec({task}, config(RewardMode::kMarginal), 3, 0, 2);
  vec.reset();
  vec.step(at::tensor({1, 2, 3}, at::kLong));
  auto snapshot = vec.sampled().clone();
  EXPECT_THROW(vec.step(at::tensor({4, 5, 3}, at::kLong)), c10::Error);
  EXPECT_TRUE(at::equal(vec.sampled(), snapshot));
  EXPECT_THROW(vec.step(at::tensor({4, 5}, at::kLong)), c10::Error);
}

// One vector env stepped from two threads: the second thread inside gets ConcurrentUseError
// (before the guard, 3 runs in 10 crashed and 3 deadlocked). Run under the sanitizer job too.
TEST(EnvVector, TwoThreadsOnOneEnvAreRejectedNotRaced) {
  auto task = small_task();
  SpotSamplingVecEnv vec({task}, config(RewardMode::kMarginal, 0.3), 8, 0, 2);
  vec.reset();
  std::atomic<int> stepped{0}, rejected{0};
  auto body = [&](uint64_t seed) {
    auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
    for (int i = 0; i < 300; ++i) {
      try {
        vec.step(at::randint(task->num_spots(), {8}, gen, at::kLong));
        ++stepped;
      } catch (const ConcurrentUseError&) {
        ++rejected;
      } catch (const c10::Error&) {  // a spot the other thread sampled: an ordinary invalid action
      }
    }
  };
  std::thread a(body, 1), b(body, 2);
  a.join();
  b.join();
  EXPECT_GT(stepped.load(), 0);
  vec.reset();  // still usable afterwards
  EXPECT_EQ(vec.elapsed_steps().sum().item<int64_t>(), 0);
}

TEST(EnvPolicies, BaselinesPickDistinctAvailableSpots) {
  auto task = small_task();
  SpotSamplingEnv env(task, config(RewardMode::kMarginal, 0.2), 0);
  env.reset();
  env.step(7);
  for (const auto& name : baseline_policy_names()) {
    auto picks = baseline_select(env, name, 30, 1);
    ASSERT_EQ(picks.size(), 30u) << name;
    std::vector<int64_t> sorted = picks;
    std::sort(sorted.begin(), sorted.end());
    EXPECT_EQ(std::unique(sorted.begin(), sorted.end()), sorted.end()) << name;
    for (int64_t p : picks) EXPECT_NE(env.action_mask()[p], 0) << name;
  }
  EXPECT_THROW(baseline_select(env, "oracle", 3), c10::Error);
  EXPECT_THROW(baseline_select(env, "random", 1000), c10::Error);
}

TEST(EnvPolicies, GumbelTopkRespectsMask) {
  auto logits = at::randn({3, 10});
  auto mask = at::ones({3, 10}, at::kBool);
  mask.slice(1, 0, 4).fill_(false);
  auto idx = gumbel_topk(logits, mask, 6, 1);
  EXPECT_TRUE(idx.ge(4).all().item<bool>());
  EXPECT_TRUE(at::equal(std::get<0>(idx.sort(1)), at::arange(4, 10).expand({3, 6})));
  EXPECT_THROW(gumbel_topk(logits, mask, 7, 1), c10::Error);
}

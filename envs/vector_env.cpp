#include <stx/envs/vector_env.h>

#include <algorithm>
#include <thread>

#include <ATen/ATen.h>

#include "envs/exclusive_use.h"
#include "envs/thread_pool.h"

namespace stx::envs {

SpotSamplingVecEnv::SpotSamplingVecEnv(std::vector<SpotSamplingTaskPtr> tasks, EnvConfig config, int64_t num_envs,
                                       uint64_t seed, int64_t num_threads)
    : tasks_(std::move(tasks)), config_(config) {
  TORCH_CHECK(num_envs >= 1, "num_envs must be >= 1, got ", num_envs);
  TORCH_CHECK(!tasks_.empty(), "tasks must hold at least one task");
  for (const auto& t : tasks_) TORCH_CHECK(t != nullptr, "tasks must not hold null tasks");
  num_spots_ = tasks_[0]->num_spots();
  for (size_t j = 1; j < tasks_.size(); ++j)
    TORCH_CHECK(tasks_[j]->num_spots() == num_spots_ && tasks_[j]->feature_dim() == tasks_[0]->feature_dim(),
                "all tasks must have the same number of spots and feature dimension; task ", j, " has N=",
                tasks_[j]->num_spots(), ", F=", tasks_[j]->feature_dim(), " vs N=", num_spots_, ", F=",
                tasks_[0]->feature_dim());
  const int64_t m = num_envs;
  sampled_ = at::zeros({m, num_spots_}, at::kChar);
  action_mask_ = at::zeros({m, num_spots_}, at::kChar);
  budget_left_ = at::zeros({m}, at::kFloat);
  reward_ = at::zeros({m}, at::kDouble);
  terminated_ = at::zeros({m}, at::kBool);
  truncated_ = at::zeros({m}, at::kBool);
  invalid_ = at::zeros({m}, at::kBool);
  terms_ = at::zeros({m, 3}, at::kDouble);
  elapsed_ = at::zeros({m}, at::kLong);
  task_index_ = at::zeros({m}, at::kLong);
  for (int64_t i = 0; i < m; ++i) {
    const auto t = static_cast<size_t>(i) % tasks_.size();
    task_index_[i] = static_cast<int64_t>(t);
    envs_.push_back(std::make_unique<SpotSamplingEnv>(tasks_[t], config_, seed + static_cast<uint64_t>(i),
                                                      sampled_[i].data_ptr<int8_t>(),
                                                      action_mask_[i].data_ptr<int8_t>()));
  }
  if (num_threads <= 0) num_threads = std::max<int64_t>(1, std::thread::hardware_concurrency());
  pool_ = std::make_unique<ThreadPool>(std::min(num_threads, m));
}

SpotSamplingVecEnv::~SpotSamplingVecEnv() = default;

int64_t SpotSamplingVecEnv::num_threads() const { return pool_->size(); }

SpotSamplingEnv& SpotSamplingVecEnv::env(int64_t i) {
  TORCH_CHECK(i >= 0 && i < num_envs(), "env index ", i, " out of range [0, ", num_envs(), ")");
  return *envs_[static_cast<size_t>(i)];
}

void SpotSamplingVecEnv::write_reset(int64_t i) {
  budget_left_.data_ptr<float>()[i] = envs_[i]->budget_left_fraction();
  reward_.data_ptr<double>()[i] = 0.0;
  terminated_.data_ptr<bool>()[i] = false;
  truncated_.data_ptr<bool>()[i] = false;
  invalid_.data_ptr<bool>()[i] = false;
  std::fill_n(terms_.data_ptr<double>() + 3 * i, 3, 0.0);
  elapsed_.data_ptr<int64_t>()[i] = 0;
}

void SpotSamplingVecEnv::reset(std::optional<uint64_t> seed, const std::vector<int64_t>& env_ids) {
  const detail::ExclusiveUse claim(busy_, "SpotSamplingVecEnv");
  std::vector<int64_t> ids = env_ids;
  if (ids.empty()) {
    ids.resize(static_cast<size_t>(num_envs()));
    for (int64_t i = 0; i < num_envs(); ++i) ids[i] = i;
  }
  for (int64_t i : ids) TORCH_CHECK(i >= 0 && i < num_envs(), "env_ids: index ", i, " out of range [0, ", num_envs(), ")");
  pool_->run(static_cast<int64_t>(ids.size()), [&](int64_t j) {
    const int64_t i = ids[j];
    envs_[i]->reset(seed ? std::optional<uint64_t>(*seed + static_cast<uint64_t>(i)) : std::nullopt);
    write_reset(i);
  });
}

void SpotSamplingVecEnv::step(const at::Tensor& actions) {
  const detail::ExclusiveUse claim(busy_, "SpotSamplingVecEnv");
  const int64_t m = num_envs();
  TORCH_CHECK(actions.defined() && actions.device().is_cpu(), "actions must be a CPU tensor");
  TORCH_CHECK(!at::isFloatingType(actions.scalar_type()) && actions.scalar_type() != at::kBool,
              "actions must have an integer dtype, got ", actions.scalar_type());
  TORCH_CHECK((actions.dim() == 1 && actions.size(0) == m) || (actions.dim() == 2 && actions.size(0) == m),
              "actions must have shape [", m, "] or [", m, ", k], got ", actions.sizes());
  auto a = actions.to(at::kLong).reshape({m, -1}).contiguous();
  const int64_t width = a.size(1);
  const int64_t* ap = a.data_ptr<int64_t>();
  // Validate every env's action first, so a bad action leaves all envs untouched ("penalize": each
  // env answers its own invalid action with a flagged no-op instead).
  const bool penalize = config_.invalid_action == InvalidAction::kPenalize;
  std::vector<std::vector<int64_t>> picks(static_cast<size_t>(m));
  for (int64_t i = 0; i < m; ++i) {
    if (envs_[i]->done()) continue;  // next-step autoreset: the action is ignored
    const int64_t want = envs_[i]->picks_this_step();
    TORCH_CHECK(penalize || want <= width, "env ", i, ": this step takes ", want, " picks but actions has ", width,
                " columns");
    picks[i].assign(ap + i * width, ap + i * width + std::min(want, width));
    if (penalize) continue;
    try {
      envs_[i]->check_actions(picks[i]);
    } catch (const c10::Error& e) {
      TORCH_CHECK(false, "env ", i, ": ", e.what_without_backtrace());
    }
  }
  pool_->run(m, [&](int64_t i) {
    auto& env = *envs_[i];
    if (env.done()) {
      env.reset();
      write_reset(i);
      return;
    }
    const StepResult r = env.step(picks[i]);
    budget_left_.data_ptr<float>()[i] = env.budget_left_fraction();
    reward_.data_ptr<double>()[i] = r.reward;
    terminated_.data_ptr<bool>()[i] = r.terminated;
    truncated_.data_ptr<bool>()[i] = r.truncated;
    invalid_.data_ptr<bool>()[i] = r.invalid_action;
    double* t = terms_.data_ptr<double>() + 3 * i;
    t[0] = r.terms.sc, t[1] = r.terms.type, t[2] = r.terms.spatial;
    elapsed_.data_ptr<int64_t>()[i] = env.elapsed_steps();
  });
}

}  // namespace stx::envs

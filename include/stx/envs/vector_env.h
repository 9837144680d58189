#pragma once
// SpotSamplingVecEnv: M environments stepped in parallel by a small thread pool, with
// next-step autoreset (an env that ended is reset by the following step, whose action is
// ignored). Observations and results live in batch tensors the envs write in place, so Python
// reads them without a copy.
#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <vector>

#include <ATen/Tensor.h>

#include <stx/envs/spot_sampling_env.h>

namespace stx::envs {

class ThreadPool;

class STX_API SpotSamplingVecEnv {
 public:
  // Env i runs tasks[i % tasks.size()] (all tasks must have the same N and F).
  // num_threads <= 0: min(num_envs, hardware threads).
  SpotSamplingVecEnv(std::vector<SpotSamplingTaskPtr> tasks, EnvConfig config, int64_t num_envs,
                     uint64_t seed = 0, int64_t num_threads = 0);
  ~SpotSamplingVecEnv();
  SpotSamplingVecEnv(const SpotSamplingVecEnv&) = delete;
  SpotSamplingVecEnv& operator=(const SpotSamplingVecEnv&) = delete;

  // Reset every env (env_ids empty) or the listed ones. With a seed, env i is seeded seed + i.
  void reset(std::optional<uint64_t> seed = std::nullopt, const std::vector<int64_t>& env_ids = {});
  // actions: [M] int64 (one pick per env) or [M, k] int64 (k = picks_per_step; envs whose step
  // takes fewer picks read the first ones). Every action is validated before any env moves
  // (InvalidAction::kPenalize: an env with an invalid action takes a flagged no-op step instead).
  // reset() and step() throw ConcurrentUseError when another thread is inside this vector env.
  void step(const at::Tensor& actions);

  int64_t num_envs() const { return static_cast<int64_t>(envs_.size()); }
  int64_t num_spots() const { return num_spots_; }
  int64_t num_threads() const;
  SpotSamplingEnv& env(int64_t i);
  const std::vector<SpotSamplingTaskPtr>& tasks() const { return tasks_; }

  // Batch buffers, updated in place by reset/step.
  const at::Tensor& sampled() const { return sampled_; }          // [M, N] int8
  const at::Tensor& action_mask() const { return action_mask_; }  // [M, N] int8
  const at::Tensor& budget_left() const { return budget_left_; }  // [M] float32
  const at::Tensor& reward() const { return reward_; }            // [M] float64
  const at::Tensor& terminated() const { return terminated_; }    // [M] bool
  const at::Tensor& truncated() const { return truncated_; }      // [M] bool
  const at::Tensor& invalid_action() const { return invalid_; }   // [M] bool: "penalize" no-op steps
  const at::Tensor& terms() const { return terms_; }              // [M, 3] float64 (sc, type, spatial)
  const at::Tensor& elapsed_steps() const { return elapsed_; }    // [M] int64
  const at::Tensor& task_index() const { return task_index_; }    // [M] int64

 private:
  void write_reset(int64_t i);

  std::vector<SpotSamplingTaskPtr> tasks_;
  EnvConfig config_;
  int64_t num_spots_ = 0;
  at::Tensor sampled_, action_mask_, budget_left_, reward_, terminated_, truncated_, invalid_, terms_, elapsed_,
      task_index_;
  std::vector<std::unique_ptr<SpotSamplingEnv>> envs_;
  std::unique_ptr<ThreadPool> pool_;
  std::atomic<bool> busy_{false};  // a thread is inside reset() / step()
};

}  // namespace stx::envs

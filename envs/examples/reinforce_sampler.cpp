// Native LibTorch example: REINFORCE with a baseline trains a spot-scoring policy directly on
// stx::envs (vector env, no Python), then compares it with random sampling and the k-center
// baseline on held-out synthetic sections.
//
//   stx_reinforce_sampler [iterations=150] [num_spots=200] [seed=0]
#include <torch/torch.h>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <stx/envs/envs.h>

namespace se = stx::envs;

namespace {

// What the policy sees of a task that never changes: features and pairwise similarities.
struct TaskView {
  torch::Tensor features;  // [N, F]
  torch::Tensor coords;    // [N, 2] unit coordinates
  torch::Tensor sim;       // [N, N] cosine similarity of centred features
  torch::Tensor dist;      // [N, N] distance in unit coordinates
};

TaskView view_of(const se::SpotSamplingTask& task) {
  auto x = task.features();
  auto z = torch::nn::functional::normalize(x - x.mean(0), torch::nn::functional::NormalizeFuncOptions().dim(1));
  auto xy = task.unit_coords();
  return {x, xy, torch::mm(z, z.t()), torch::cdist(xy, xy)};
}

// Per-spot inputs [M, N, F + 6]: features, coordinates, sampled flag, nearest sampled spot in
// feature and tissue space, budget left.
torch::Tensor policy_inputs(const std::vector<const TaskView*>& views, const torch::Tensor& sampled,
                            const torch::Tensor& budget_left) {
  std::vector<torch::Tensor> rows;
  for (size_t i = 0; i < views.size(); ++i) {
    const auto& v = *views[i];
    auto s = sampled[i].to(torch::kFloat);
    auto off = s.eq(0).unsqueeze(0);
    auto none = s.sum().eq(0);
    auto max_sim = torch::where(none, torch::full_like(s, -1.0), v.sim.masked_fill(off, -1.0).amax(1));
    auto min_dist = torch::where(none, torch::full_like(s, 2.0), v.dist.masked_fill(off, 2.0).amin(1));
    rows.push_back(torch::cat({v.features, v.coords, s.unsqueeze(1), max_sim.unsqueeze(1), min_dist.unsqueeze(1),
                               torch::full_like(s, budget_left[i].item<float>()).unsqueeze(1)},
                              1));
  }
  return torch::stack(rows);
}

struct ScorerImpl : torch::nn::Module {
  explicit ScorerImpl(int64_t in) {
    net = register_module("net", torch::nn::Sequential(torch::nn::Linear(in, 64), torch::nn::ReLU(),
                                                       torch::nn::Linear(64, 64), torch::nn::ReLU(),
                                                       torch::nn::Linear(64, 1)));
  }
  torch::Tensor forward(const torch::Tensor& x) { return net->forward(x).squeeze(-1); }
  torch::nn::Sequential net{nullptr};
};
TORCH_MODULE(Scorer);

se::SpotSamplingTaskPtr make_task(int64_t spots, uint64_t section_seed) {
  se::SyntheticOptions o;
  o.num_spots = spots;
  o.section_seed = section_seed;
  auto data = se::make_synthetic(o);
  static se::SingleCellPriorPtr prior;  // one world, one prior shared by every task
  if (!prior) {
    se::PriorOptions p;
    p.num_clusters = o.num_types * o.states_per_type;
    prior = se::SingleCellPrior::build(data.reference, p);
  }
  return se::SpotSamplingTask::create(data.section, prior);
}

double greedy_episode(Scorer& policy, const se::SpotSamplingTaskPtr& task, const se::EnvConfig& cfg) {
  torch::NoGradGuard no_grad;
  se::SpotSamplingEnv env(task, cfg, 0);
  env.reset(0);
  const TaskView v = view_of(*task);
  const int64_t n = env.num_spots();
  double total = 0.0;
  while (!env.done()) {
    auto sampled = torch::from_blob(const_cast<int8_t*>(env.sampled()), {1, n}, torch::kChar);
    auto mask = torch::from_blob(const_cast<int8_t*>(env.action_mask()), {n}, torch::kChar);
    auto logits = policy->forward(policy_inputs({&v}, sampled, torch::full({1}, env.budget_left_fraction())))[0];
    total += env.step(logits.masked_fill(mask.eq(0), -INFINITY).argmax().item<int64_t>()).reward;
  }
  return total;
}

}  // namespace

int main(int argc, char** argv) {
  const int iterations = argc > 1 ? std::atoi(argv[1]) : 150;
  const int64_t spots = argc > 2 ? std::atoll(argv[2]) : 200;
  const uint64_t seed = argc > 3 ? std::strtoull(argv[3], nullptr, 10) : 0;
  torch::manual_seed(static_cast<uint64_t>(seed));
  torch::set_num_threads(1);
  const int64_t m = 8;
  se::EnvConfig cfg;  // marginal rewards, rho = 0.1, SCR2-ST weights

  std::vector<se::SpotSamplingTaskPtr> train, test;
  for (uint64_t s = 0; s < 8; ++s) train.push_back(make_task(spots, s));
  for (uint64_t s = 1000; s < 1008; ++s) test.push_back(make_task(spots, s));
  std::vector<TaskView> views;
  for (const auto& t : train) views.push_back(view_of(*t));
  std::vector<const TaskView*> env_views;
  for (int64_t i = 0; i < m; ++i) env_views.push_back(&views[static_cast<size_t>(i) % views.size()]);

  se::SpotSamplingVecEnv vec(train, cfg, m, seed, 2);
  const int64_t budget = vec.env(0).budget().total;
  Scorer policy(train[0]->feature_dim() + 6);
  torch::optim::Adam opt(policy->parameters(), torch::optim::AdamOptions(3e-3));

  for (int it = 0; it < iterations; ++it) {
    vec.reset();
    std::vector<torch::Tensor> logps, rewards;
    for (int64_t t = 0; t < budget; ++t) {  // every env spends its budget in `budget` steps
      auto logits = policy->forward(policy_inputs(env_views, vec.sampled(), vec.budget_left()));
      auto logp = torch::log_softmax(logits.masked_fill(vec.action_mask().eq(0), -INFINITY), 1);
      auto action = torch::multinomial(logp.exp().detach(), 1);
      logps.push_back(logp.gather(1, action).squeeze(1));
      vec.step(action.squeeze(1));
      rewards.push_back(vec.reward().to(torch::kFloat).clone());
    }
    // Returns-to-go; the baseline is the batch mean at each step.
    auto r = torch::stack(rewards);  // [T, M]
    auto g = r.flip(0).cumsum(0).flip(0);
    auto adv = g - g.mean(1, true);
    adv = adv / (adv.std().clamp_min(1e-6));
    auto loss = -(adv * torch::stack(logps)).mean();
    opt.zero_grad();
    loss.backward();
    opt.step();
    if (it % 25 == 0 || it == iterations - 1)
      std::printf("iteration %4d  mean episode reward %.3f\n", it, g[0].mean().item<double>());
  }

  double learned = 0.0, random = 0.0, kcenter = 0.0;
  for (const auto& t : test) {
    learned += greedy_episode(policy, t, cfg) / static_cast<double>(test.size());
    se::SpotSamplingEnv env(t, cfg, 0);
    for (uint64_t s = 0; s < 5; ++s) random += se::run_baseline_episode(env, "random", s) / (5.0 * test.size());
    kcenter += se::run_baseline_episode(env, "kcenter", 0) / static_cast<double>(test.size());
  }
  std::printf("held-out sections (%zu x N=%lld): REINFORCE %.3f | random %.3f | k-center %.3f\n", test.size(),
              static_cast<long long>(spots), learned, random, kcenter);
  return 0;
}

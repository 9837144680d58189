#pragma once
// Pieces of the training loop that the spot-patch loop (loop.cpp) and the tile loop (tile_loop.cpp)
// share: parameters by name, gradient averaging across ranks, the resumable state, the cosine
// schedule and the divergence check. Private to train/.
#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>

#include <cmath>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include <stx/train/checkpoint.h>
#include <stx/train/loop.h>

namespace stx::train {

inline std::vector<std::pair<std::string, at::Tensor>> named_parameters(TrainableModel& model) {
  std::vector<std::pair<std::string, at::Tensor>> out;
  for (const auto& p : model.module().named_parameters()) out.emplace_back(p.key(), p.value());
  return out;
}

inline void average_gradients(TrainableModel& model, const TrainHooks& hooks) {
  std::vector<at::Tensor> grads;
  for (auto& [name, p] : named_parameters(model)) {
    if (!p.grad().defined()) p.mutable_grad() = at::zeros_like(p);
    grads.push_back(p.grad().flatten());
  }
  auto flat = at::cat(grads);
  hooks.average_gradients(flat);
  int64_t offset = 0;
  for (auto& [name, p] : named_parameters(model)) {
    const int64_t n = p.numel();
    p.mutable_grad().copy_(flat.slice(0, offset, offset + n).view_as(p));
    offset += n;
  }
}

inline TrainState capture(TrainableModel& model, torch::optim::AdamW& opt, const at::Generator& gen, int64_t step,
                   const at::Tensor& order, int64_t cursor, const std::vector<double>& losses) {
  TrainState s;
  s.step = step;
  for (auto& [name, p] : named_parameters(model)) {
    auto it = opt.state().find(p.unsafeGetTensorImpl());
    if (it == opt.state().end()) continue;
    auto& st = static_cast<torch::optim::AdamWParamState&>(*it->second);
    s.optimizer[name + ".exp_avg"] = st.exp_avg().detach().cpu().clone();
    s.optimizer[name + ".exp_avg_sq"] = st.exp_avg_sq().detach().cpu().clone();
    s.optimizer[name + ".step"] = at::scalar_tensor(st.step(), at::kLong);
  }
  s.generator = gen.get_state();
  s.global_generator = at::detail::getDefaultCPUGenerator().get_state();
  s.order = order.clone();
  s.cursor = cursor;
  s.losses = losses;
  return s;
}

inline void restore(TrainableModel& model, torch::optim::AdamW& opt, at::Generator& gen, const TrainState& s,
             const std::string& source) {
  for (auto& [name, p] : named_parameters(model)) {
    auto a = s.optimizer.find(name + ".exp_avg");
    if (a == s.optimizer.end()) continue;
    auto b = s.optimizer.find(name + ".exp_avg_sq");
    auto n = s.optimizer.find(name + ".step");
    TORCH_CHECK(b != s.optimizer.end() && n != s.optimizer.end() && a->second.sizes() == p.sizes() &&
                    b->second.sizes() == p.sizes(),
                source, ": the optimizer state of '", name, "' does not fit the model");
    auto st = std::make_unique<torch::optim::AdamWParamState>();
    st->step(n->second.item<int64_t>());
    st->exp_avg(a->second.to(p.device()).clone());
    st->exp_avg_sq(b->second.to(p.device()).clone());
    opt.state()[p.unsafeGetTensorImpl()] = std::move(st);
  }
  gen.set_state(s.generator);
  at::Generator global = at::detail::getDefaultCPUGenerator();  // a handle on torch's default generator
  std::lock_guard<std::mutex> lock(global.mutex());
  global.set_state(s.global_generator);
}

// Cosine schedule from lr to 0 over `steps`.
inline void set_cosine_lr(torch::optim::AdamW& opt, double lr, int64_t step, int64_t steps) {
  for (auto& group : opt.param_groups()) {
    group.options().set_lr(lr * 0.5 * (1.0 + std::cos(M_PI * static_cast<double>(step) / static_cast<double>(steps))));
  }
}

// The loss as a double; a non-finite loss stops training with what to change.
inline double finite_loss(const at::Tensor& loss, int64_t step, int64_t steps, const Config& config) {
  const double value = loss.item<double>();
  TORCH_CHECK(std::isfinite(value), "training diverged: the loss is ", value, " at step ", step + 1, " of ", steps,
              " (lower 'lr', or raise 'temperature' (", config.number("temperature"), ") and check the data)");
  return value;
}

}  // namespace stx::train

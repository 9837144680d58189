#include <stx/train/loop.h>

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <mutex>
#include <sstream>

#include <stx/data/augment.h>
#include <stx/stx.h>
#include <stx/train/checkpoint.h>

#include "train/loop_common.h"

namespace stx::train {
namespace {

// The fixed validation split of config val_fraction: a permutation from its own generator (seed
// mixed with a constant), so it is the same whatever the steps, batch size or augmentation.
struct Split {
  at::Tensor train, validation;  // int64 row indices
};

Split validation_split(int64_t n, double fraction, uint64_t seed) {
  if (fraction <= 0.0) return {at::arange(n, at::kLong), at::empty({0}, at::kLong)};
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed ^ 0x9E3779B97F4A7C15ULL);
  const auto perm = at::randperm(n, gen);
  const int64_t held = std::max<int64_t>(1, std::llround(fraction * static_cast<double>(n)));
  TORCH_CHECK(n - held >= 2, "train: config 'val_fraction' ", fraction, " holds back ", held, " of ", n,
              " spots, leaving ", n - held, " to train on (need at least 2)");
  return {std::get<0>(perm.slice(0, held).sort()), std::get<0>(perm.slice(0, 0, held).sort())};
}

}  // namespace

at::Tensor to_unit(const at::Tensor& patches_u8, const std::string& device) {
  return patches_u8.to(at::Device(device), at::kFloat).div(255.0);
}

at::Tensor normalise(const at::Tensor& x) {
  // ImageNet statistics: the convention of pretrained backbones.
  auto mean = at::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
  auto std = at::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
  return (x - mean) / std;
}

at::Tensor to_input(const at::Tensor& patches_u8, const std::string& device) {
  return normalise(to_unit(patches_u8, device));
}

TrainResult train_model(const TrainRequest& r, const Config& config, const TrainHooks& hooks) {
  const int64_t all = r.patches.size(0);
  TORCH_CHECK(r.patches.dim() == 4 && r.patches.scalar_type() == at::kByte, "train: patches must be uint8 [N, 3, S, S]");
  TORCH_CHECK(r.targets.dim() == 2 && r.targets.size(0) == all && r.labels.dim() == 1 && r.labels.size(0) == all,
              "train: patches, targets and labels must have one row per spot (got ", all, ", ", r.targets.sizes(),
              ", ", r.labels.sizes(), ")");
  TORCH_CHECK(all >= 2, "train: need at least 2 sequenced spots to train, got ", all);
  TORCH_CHECK(at::isfinite(r.targets).all().item<bool>(), "train: the targets contain NaN or Inf");
  const Split split = validation_split(all, config.number("val_fraction"), r.seed);
  const bool validate = split.validation.numel() > 0;
  const at::Tensor patches = validate ? r.patches.index_select(0, split.train) : r.patches;
  const at::Tensor targets = validate ? r.targets.index_select(0, split.train) : r.targets;
  const at::Tensor labels = validate ? r.labels.index_select(0, split.train) : r.labels;
  const int64_t n = patches.size(0);
  const int64_t val_every = config.integer("val_every");
  TORCH_CHECK(hooks.world >= 1 && hooks.rank >= 0 && hooks.rank < hooks.world, "train: rank ", hooks.rank,
              " outside world ", hooks.world);
  TORCH_CHECK(hooks.world == 1 || hooks.average_gradients, "train: world > 1 needs an average_gradients hook");
  const auto device = config.string("device");
  const int64_t steps = config.integer("steps");
  const double lr = config.number("lr");
  const auto augment = config.string("augment");

  torch::manual_seed(r.seed);  // the same initial weights on every rank
  auto gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
  std::shared_ptr<TrainableModel> model = build_model(config, r.targets.size(1));
  model->module().train();
  model->start_from_mean(targets.mean(0).to(at::Device(device)));
  torch::optim::AdamW opt(model->module().parameters(),
                          torch::optim::AdamWOptions(lr).weight_decay(config.number("weight_decay")));

  Bank bank;
  bank.values = targets.to(at::Device(device));
  bank.labels = labels.to(at::Device(device));
  bank.num_labels = labels.max().item<int64_t>() + 1;
  if (config.flag("shard_bank") && hooks.world > 1 && r.retrieval) {
    TORCH_CHECK(hooks.sharded_retrieve, "train: shard_bank needs a sharded_retrieve hook");
    const int64_t start = hooks.rank * n / hooks.world, stop = (hooks.rank + 1) * n / hooks.world;
    bank.values = bank.values.slice(0, start, stop);
    bank.offset = start;
    bank.sharded_retrieve = hooks.sharded_retrieve;
  }

  const int64_t batch = std::max<int64_t>(2 * hooks.world, std::min(config.integer("batch_size"), n));
  std::vector<double> losses;
  std::vector<std::pair<int64_t, double>> validation;
  int64_t best_step = 0;
  std::map<std::string, at::Tensor> best_model;
  auto order = at::randperm(n, gen);
  int64_t cursor = 0, first = 0;
  Checkpoint periodic;
  if (!r.resume_from.empty()) {
    auto ck = load_checkpoint(r.resume_from);
    TORCH_CHECK(ck.has_train_state, "--resume: ", r.resume_from, " holds a finished run (no training state)");
    TORCH_CHECK(ck.genes == r.genes && ck.train_state.order.numel() == n, "--resume: ", r.resume_from,
                " was written for other data (genes or spots differ)");
    load_module_state(model->module(), ck.model, "--resume " + r.resume_from);
    restore(*model, opt, gen, ck.train_state, "--resume " + r.resume_from);
    order = ck.train_state.order;
    cursor = ck.train_state.cursor;
    first = ck.train_state.step;
    losses = ck.train_state.losses;
    validation = ck.train_state.validation;
    best_step = ck.train_state.best_step;
    best_model = ck.train_state.best_model;
    TORCH_CHECK(validate || validation.empty(), "--resume: ", r.resume_from, " was written with another val_fraction");
  }
  const int64_t every = config.integer("checkpoint_every");
  for (int64_t step = first; step < steps; ++step) {
    if (every > 0 && step > first && step % every == 0 && !r.checkpoint_path.empty() && hooks.rank == 0) {
      periodic.recipe = config.string("model");
      periodic.model = module_state(model->module());
      periodic.genes = r.genes;
      periodic.config = config;
      periodic.stx_version = stx::library_version();
      periodic.retrieval = r.retrieval;
      periodic.train_mean = targets.mean(0);
      periodic.has_train_state = true;
      periodic.train_state = capture(*model, opt, gen, step, order, cursor, losses);
      periodic.train_state.validation = validation;
      periodic.train_state.best_step = best_step;
      periodic.train_state.best_model = best_model;
      save_checkpoint(periodic, r.checkpoint_path);
    }
    if (cursor + batch > n) {  // a new pass over the sequenced spots
      order = at::randperm(n, gen);
      cursor = 0;
    }
    auto idx = order.slice(0, cursor, cursor + batch).slice(0, hooks.rank, c10::nullopt, hooks.world);
    cursor += batch;
    // Config augment: a preset of stx/data/augment.h on [0, 1] images, then the normalisation.
    auto x = normalise(stx::data::augment(to_unit(patches.index_select(0, idx), device), augment, gen));
    set_cosine_lr(opt, lr, step, steps);
    auto [loss, pred] = model->loss(x, targets.index_select(0, idx).to(at::Device(device)), bank, r.retrieval);
    const double value = finite_loss(loss, step, steps, config);
    opt.zero_grad();
    loss.backward();
    if (hooks.world > 1) average_gradients(*model, hooks);
    opt.step();
    losses.push_back(value);
    if (hooks.progress) hooks.progress(step, value);
    if (validate && ((step + 1) % val_every == 0 || step + 1 == steps)) {
      const at::Tensor pred = predict(*model, r.patches.index_select(0, split.validation), device);
      const double v = at::mse_loss(pred, r.targets.index_select(0, split.validation)).item<double>();
      model->module().train();
      const auto lower = [](const auto& a, const auto& b) { return a.second < b.second; };
      if (validation.empty() || v < std::min_element(validation.begin(), validation.end(), lower)->second) {
        best_step = step + 1;
        best_model = module_state(model->module());
      }
      validation.emplace_back(step + 1, v);
    }
  }
  if (validate && !best_model.empty()) load_module_state(model->module(), best_model, "the best validation model");
  model->module().eval();
  TrainResult result;
  result.model = model;
  result.losses = std::move(losses);
  result.validation = std::move(validation);
  result.best_step = best_step;
  result.validation_indices = split.validation;
  return result;
}

at::Tensor predict(TrainableModel& model, const at::Tensor& patches_u8, const std::string& device,
                   int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model.module().eval();
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < patches_u8.size(0); i += batch_size) {
    out.push_back(model.predict(to_input(patches_u8.slice(0, i, i + batch_size), device)).cpu());
  }
  TORCH_CHECK(!out.empty(), "predict: no spots");
  return at::cat(out);
}

}  // namespace stx::train

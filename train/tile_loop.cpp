#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <cmath>

#include <stx/stx.h>
#include <stx/train/checkpoint.h>
#include <stx/train/loop.h>
#include <stx/train/tile_loss.h>

#include "train/loop_common.h"

namespace stx::train {

at::Tensor mean_density(const std::vector<TileSection>& sections) {
  at::Tensor total;
  double pixels = 0;
  for (const auto& s : sections) {
    const auto& g = s.groups.at(0);
    const double area = g.shape == "square" ? 4.0 * g.radius_px * g.radius_px : M_PI * g.radius_px * g.radius_px;
    const auto sums = at::expm1(g.targets.to(at::kDouble)).sum(0);
    total = total.defined() ? total + sums : sums;
    pixels += area * static_cast<double>(g.targets.size(0));
  }
  TORCH_CHECK(total.defined() && pixels > 0, "mean_density: no regions");
  return (total / pixels).to(at::kFloat);
}

TrainResult train_tiles(const TileRequest& r, const Config& config, const TrainHooks& hooks) {
  TORCH_CHECK(!r.sections.empty(), "train: no sections to draw tiles from");
  TORCH_CHECK(find_recipe(config.string("model")).dense, "config 'model' '", config.string("model"),
              "' trains on spot patches, not tiles");
  TORCH_CHECK(config.number("val_fraction") == 0.0, "config 'val_fraction' is for spot-patch models; a dense model "
              "trains on tiles (set it to 0)");
  TORCH_CHECK(hooks.world == 1, "the tile loop runs on one process (world ", hooks.world, ")");
  const auto device = config.string("device");
  const int64_t steps = config.integer("steps"), tile = config.integer("tile_px"), batch = config.integer("tile_batch");
  const double lr = config.number("lr");
  TileLossOptions loss_options;
  loss_options.pcc_weight = config.number("pcc_weight");
  loss_options.border = config.string("border");
  loss_options.log1p = true;

  torch::manual_seed(r.seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(r.seed);
  std::shared_ptr<TrainableModel> model = build_model(config, static_cast<int64_t>(r.genes.size()));
  auto* dense = dynamic_cast<DenseTrainableModel*>(model.get());
  TORCH_CHECK(dense, "config 'model' '", config.string("model"), "' is not a dense model");
  model->module().train();
  const at::Tensor start = mean_density(r.sections);
  model->start_from_mean(start.to(at::Device(device)));
  torch::optim::AdamW opt(model->module().parameters(),
                          torch::optim::AdamWOptions(lr).weight_decay(config.number("weight_decay")));
  std::vector<double> losses;
  int64_t first = 0;
  if (!r.resume_from.empty()) {
    auto ck = load_checkpoint(r.resume_from);
    TORCH_CHECK(ck.has_train_state, "--resume: ", r.resume_from, " holds a finished run (no training state)");
    TORCH_CHECK(ck.genes == r.genes, "--resume: ", r.resume_from, " was written for other genes");
    load_module_state(model->module(), ck.model, "--resume " + r.resume_from);
    restore(*model, opt, gen, ck.train_state, "--resume " + r.resume_from);
    first = ck.train_state.step;
    losses = ck.train_state.losses;
  }
  const int64_t every = config.integer("checkpoint_every");
  for (int64_t step = first; step < steps; ++step) {
    if (every > 0 && step > first && step % every == 0 && !r.checkpoint_path.empty()) {
      Checkpoint periodic;
      periodic.recipe = config.string("model");
      periodic.model = module_state(model->module());
      periodic.genes = r.genes;
      periodic.config = config;
      periodic.stx_version = stx::library_version();
      periodic.retrieval = false;
      periodic.train_mean = start;
      periodic.has_train_state = true;
      periodic.train_state = capture(*model, opt, gen, step, at::empty({0}, at::kLong), 0, losses);
      save_checkpoint(periodic, r.checkpoint_path);
    }
    const TileBatch b = sample_tiles(r.sections, tile, batch, loss_options.border, config.string("augment"), gen);
    set_cosine_lr(opt, lr, step, steps);
    const at::Tensor map = dense->dense(normalise(to_unit(b.images, device)));
    at::Tensor loss;
    int64_t used = 0;
    for (size_t g = 0; g < b.centers.size(); ++g) {
      if (b.centers[g].size(0) == 0) continue;
      TileLossOptions o = loss_options;
      o.shape = r.sections[0].groups[g].shape;
      const auto radii = at::full({b.centers[g].size(0)}, r.sections[0].groups[g].radius_px, at::kDouble);
      const auto term = tile_spot_loss(map, b.centers[g].to(at::Device(device), map.scalar_type()),
                                       radii.to(at::Device(device), map.scalar_type()),
                                       b.targets[g].to(at::Device(device)), o).loss;
      loss = loss.defined() ? loss + term : term;
      ++used;
    }
    TORCH_CHECK(used > 0, "train: a batch of ", batch, " tiles of ", tile, " px holds no whole region; raise config "
                "'tile_px' above the spot diameter in pixels, or use border \"weight\"");
    loss = loss / static_cast<double>(used);
    const double value = finite_loss(loss, step, steps, config);
    opt.zero_grad();
    loss.backward();
    opt.step();
    losses.push_back(value);
    if (hooks.progress) hooks.progress(step, value);
  }
  model->module().eval();
  TrainResult result;
  result.model = model;
  result.losses = std::move(losses);
  result.validation_indices = at::empty({0}, at::kLong);
  return result;
}

}  // namespace stx::train

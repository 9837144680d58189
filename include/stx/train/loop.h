#pragma once
// The one training loop of stx: AdamW with a cosine schedule, seeded batches and augmentation
// (config augment: a preset of stx/data/augment.h), non-finite-loss detection, periodic resumable
// checkpoints, progress, and hooks a front end fills for torch.distributed (gradient averaging,
// a bank sharded across ranks). Prediction and the ImageNet normalisation live here too.
#include <ATen/core/Tensor.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/train/config.h>
#include <stx/train/recipe.h>
#include <stx/train/tiles.h>

namespace stx::train {

struct TrainHooks {
  int64_t rank = 0, world = 1;
  // Averages the flattened gradients of all parameters across ranks in place (world > 1).
  std::function<void(at::Tensor& flat_grads)> average_gradients;
  // With config shard_bank and world > 1: the retrieval over the sharded bank.
  ShardedRetrieveFn sharded_retrieve;
  std::function<void(int64_t step, double loss)> progress;
};

struct TrainState;  // optimizer moments, generators and batch order (see checkpoint.h)

struct TrainResult {
  std::shared_ptr<TrainableModel> model;  // with validation: the weights of best_step
  std::vector<double> losses;
  // Config val_fraction > 0: (steps done, MSE on the held-back spots) every val_every steps and
  // after the last step; best_step is the entry with the lowest loss (the first of equals).
  std::vector<std::pair<int64_t, double>> validation;
  int64_t best_step = 0;
  at::Tensor validation_indices;  // int64 rows of the request held back (empty without validation)
};

// uint8 [B,3,S,S] -> float ImageNet-normalised on `device` (= normalise(to_unit(...))).
STX_API at::Tensor to_input(const at::Tensor& patches_u8, const std::string& device);
// uint8 [B,3,S,S] -> float in [0, 1] on `device`; and the ImageNet normalisation of such images.
STX_API at::Tensor to_unit(const at::Tensor& patches_u8, const std::string& device);
STX_API at::Tensor normalise(const at::Tensor& images);

// patches uint8 [N,3,S,S], targets [N,G] log1p, labels int64 [N]. With config val_fraction > 0 a
// fixed share of the spots (drawn from `seed` by its own generator, so the split does not depend on
// steps or batch size) is held back from training and from the retrieval bank, and the model with
// the lowest validation MSE is returned. `resume_from`: a checkpoint with a
// training state to continue (same data and config); `checkpoint_path`: where config
// checkpoint_every writes resumable checkpoints ("" = none).
struct TrainRequest {
  at::Tensor patches, targets, labels;
  uint64_t seed = 0;
  bool retrieval = true;
  std::vector<std::string> genes;     // stored in periodic checkpoints
  std::string checkpoint_path;
  std::string resume_from;
};
STX_API TrainResult train_model(const TrainRequest& request, const Config& config, const TrainHooks& hooks = {});

// The tile loop: a dense recipe (config model, Recipe::dense) trained on tiles drawn by sample_tiles
// (config tile_px, tile_batch, border, augment) from `sections`, every region group's loss
// tile_spot_loss(..., log1p = true, pcc_weight) averaged over the groups present in the batch, with the
// same optimiser, schedule, divergence check and resumable checkpoints as train_model.
// `mean_density`: the start of the map ([G] counts per pixel). No validation split (val_fraction 0).
struct TileRequest {
  std::vector<TileSection> sections;
  uint64_t seed = 0;
  std::vector<std::string> genes;
  std::string checkpoint_path;
  std::string resume_from;
};
STX_API TrainResult train_tiles(const TileRequest& request, const Config& config, const TrainHooks& hooks = {});
// Mean counts per pixel [G] over the first region group of `sections` (the start of a density map).
STX_API at::Tensor mean_density(const std::vector<TileSection>& sections);

STX_API at::Tensor predict(TrainableModel& model, const at::Tensor& patches_u8, const std::string& device,
                           int64_t batch_size = 256);

}  // namespace stx::train

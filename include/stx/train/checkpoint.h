#pragma once
// The one checkpoint format of stx, written and read by C++ for both front ends: a torch.save
// zip archive (torch::pickle_save) of plain data only (a dict of tensors, strings, numbers, lists
// and dicts), so Python loads it with torch.load(weights_only=True) and C++ with torch::pickle_load
// (no code runs for either). Keys:
//   format ("stx-checkpoint"), format_version, recipe, model (parameter and buffer name -> tensor),
//   genes, config (the resolved config), stx_version, retrieval, train_mean ([G]),
//   train_state (only while training is unfinished: step, optimizer moments, generators, order,
//   validation losses and the best model so far).
// Writes go to a temporary file in the same folder, then rename: an interrupted write never
// leaves a truncated checkpoint.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <map>
#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/train/config.h>

namespace stx::train {

struct TrainState {
  int64_t step = 0;                            // steps done
  std::map<std::string, at::Tensor> optimizer; // "<param>.exp_avg", "<param>.exp_avg_sq"
  at::Tensor generator, global_generator;      // batch/augmentation generator and torch's default CPU one
  at::Tensor order;                            // the current pass's permutation
  int64_t cursor = 0;
  std::vector<double> losses;
  // With config val_fraction > 0: the validation losses so far and the best model seen.
  std::vector<std::pair<int64_t, double>> validation;  // (steps done, loss)
  int64_t best_step = 0;
  std::map<std::string, at::Tensor> best_model;
};

struct Checkpoint {
  std::string recipe;
  std::map<std::string, at::Tensor> model;
  std::vector<std::string> genes;
  Config config;
  std::string stx_version;
  bool retrieval = true;
  at::Tensor train_mean;
  bool has_train_state = false;
  TrainState train_state;
};

STX_API void save_checkpoint(const Checkpoint& checkpoint, const std::string& path);
// Errors name the file: unreadable, not an stx checkpoint, missing keys, wrong types.
STX_API Checkpoint load_checkpoint(const std::string& path);

// Parameters and buffers by name (CPU copies).
STX_API std::map<std::string, at::Tensor> module_state(torch::nn::Module& module);
// Copies `state` into the module; a missing, extra or differently shaped entry is an error naming it.
STX_API void load_module_state(torch::nn::Module& module, const std::map<std::string, at::Tensor>& state,
                               const std::string& source);

// Writes bytes to path through a temporary file + rename (used for checkpoints and JSON outputs).
STX_API void write_file_atomic(const std::string& path, const std::string& bytes);

}  // namespace stx::train

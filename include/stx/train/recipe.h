#pragma once
// Model recipes: how the training layer builds, trains and runs a model. A model plugs into the
// one loop (stx/train/loop.h), checkpoint format and metrics by registering a recipe:
//
//   STX_TRAIN_RECIPE(my_model) {
//     return stx::train::Recipe{"my_model", "what it is",
//                               [](const Config& c, int64_t genes) { return std::make_unique<MyModel>(c, genes); }};
//   }
//
// after which config key "model": "my_model" selects it in `stx-train` and `python -m stx`.
#include <ATen/core/Tensor.h>
#include <torch/nn/module.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <tuple>
#include <vector>

#include <stx/macros.h>
#include <stx/train/config.h>

namespace stx::train {

// Retrieval over a bank sharded across ranks, supplied by a front end (Python: torch.distributed):
// (image_emb [B, P], this rank's bank embeddings, its bank rows, the whole bank's labels, offset)
// -> (soft [B, G], confidence [B]).
using ShardedRetrieveFn = std::function<std::tuple<at::Tensor, at::Tensor>(
    const at::Tensor& image_emb, const at::Tensor& bank_emb, const at::Tensor& bank_values,
    const at::Tensor& bank_labels, int64_t offset)>;

// The sequenced spots a model may use as soft labels while training.
struct Bank {
  at::Tensor values;       // [n, G] log1p (this rank's rows when sharded)
  at::Tensor labels;       // [N] int64, the whole bank
  int64_t offset = -1;     // >= 0: values are rows [offset, offset + n) of a sharded bank
  int64_t num_labels = 0;  // max(labels) + 1
  ShardedRetrieveFn sharded_retrieve;
};

class STX_API TrainableModel {
 public:
  virtual ~TrainableModel() = default;
  virtual torch::nn::Module& module() = 0;
  // Called once before training with the mean training profile [G].
  virtual void start_from_mean(const at::Tensor& mean_profile) = 0;
  // images: ImageNet-normalised [B, 3, S, S]; targets [B, G]. Returns (loss, prediction).
  virtual std::tuple<at::Tensor, at::Tensor> loss(const at::Tensor& images, const at::Tensor& targets,
                                                  const Bank& bank, bool retrieval) = 0;
  // Predicted log1p expression [B, G] (eval mode, no grad by the caller).
  virtual at::Tensor predict(const at::Tensor& images) = 0;
};

// A dense model (e.g. recipe pixnet): per-pixel expression maps trained on image tiles by the tile
// loop (train_tiles in stx/train/loop.h, data in stx/train/tiles.h) and read out inside regions of
// any size, instead of one prediction per spot patch.
class STX_API DenseTrainableModel : public TrainableModel {
 public:
  // ImageNet-normalised images [B, 3, h, w] -> a per-pixel density of counts [B, G, h, w] (>= 0).
  virtual at::Tensor dense(const at::Tensor& images) = 0;
  // start_from_mean receives the mean count density per pixel [G] of the training regions.
  // The spot-patch interface is not a dense model's: both are errors that say what to run instead.
  std::tuple<at::Tensor, at::Tensor> loss(const at::Tensor&, const at::Tensor&, const Bank&, bool) override;
  at::Tensor predict(const at::Tensor&) override;
};

struct Recipe {
  std::string name;
  std::string doc;
  std::function<std::unique_ptr<TrainableModel>(const Config& config, int64_t num_genes)> build;
  bool dense = false;  // trains on tiles (a DenseTrainableModel)
};

STX_API void register_recipe(Recipe recipe);
STX_API const Recipe& find_recipe(const std::string& name);
STX_API std::vector<std::string> recipe_names();
// The recipe of config["model"], built for `num_genes` genes and moved to config["device"].
STX_API std::unique_ptr<TrainableModel> build_model(const Config& config, int64_t num_genes);

struct STX_API RecipeRegistrar {
  explicit RecipeRegistrar(Recipe (*make)());
};

}  // namespace stx::train

#define STX_TRAIN_RECIPE(name)                                                                  \
  static ::stx::train::Recipe stx_train_recipe_##name();                                        \
  static const ::stx::train::RecipeRegistrar stx_train_recipe_registrar_##name(&stx_train_recipe_##name); \
  static ::stx::train::Recipe stx_train_recipe_##name()

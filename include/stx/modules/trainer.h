#pragma once
// The native SCR2Net trainer's building blocks (used by the stx-train program): the same config
// keys, data loading, gene panel, objective and metrics as the Python pipeline (python -m stx),
// so a C++-only LibTorch user trains and evaluates without Python.
#include <ATen/core/Tensor.h>

#include <map>
#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/modules/scr2net.h>

namespace stx::modules {

struct TrainerConfig {
  int64_t seed = 0;
  int64_t top_genes = 50;
  std::string genes_file;  // a text file, one gene per line ("" = top_genes)
  int64_t patch_size = 32;
  double patch_um = 80.0;
  int64_t steps = 150;
  int64_t batch_size = 32;
  double lr = 2e-3;
  double weight_decay = 1e-4;
  std::string backbone = "small_cnn";
  int64_t width = 16;
  int64_t retrieval_k = 16;
  int64_t retrieval_types = 3;
  double soft_weight = 0.5;
  double soft_threshold = 0.1;
  double contrastive_weight = 0.1;
  double temperature = 0.5;
  std::string device = "cpu";
  int64_t synthetic_sections = 4;
  int64_t synthetic_image_px = 2400;
  int64_t num_threads = 0;
};

// Reads the pipeline's JSON config (keys of the Python PipelineConfig; the sampling keys are
// accepted and ignored here). Unknown keys and impossible values are errors naming the key.
STX_API TrainerConfig load_trainer_config(const std::string& json_path);

struct TrainerSection {
  std::string name;
  at::Tensor patches;  // [N, 3, S, S] uint8
  at::Tensor counts;   // [N, G_all] float32
  at::Tensor coords;   // [N, 2] float64 (x, y) full-resolution pixels
  std::vector<std::string> gene_names;
};

// `data`: a synthetic study folder (study.json), a Visium folder, or "" to generate a synthetic
// study under `work_dir/synthetic`.
STX_API std::vector<TrainerSection> load_trainer_sections(const std::string& data, const TrainerConfig& config,
                                                          const std::string& work_dir);
// Top genes by mean log1p-normalised expression over the sections (among genes all share), or the list.
STX_API std::vector<std::string> choose_genes(const std::vector<TrainerSection>& sections, const TrainerConfig& config);
// log1p(counts / library size * 1e4) of the panel: [N, G] float32.
STX_API at::Tensor panel_targets(const TrainerSection& section, const std::vector<std::string>& genes);

STX_API SCR2Net make_scr2net(const TrainerConfig& config, int64_t num_genes);
STX_API SCR2Net train_scr2net(const at::Tensor& patches, const at::Tensor& targets, const at::Tensor& labels,
                              const TrainerConfig& config, uint64_t seed, bool retrieval = true);
STX_API at::Tensor predict(SCR2Net& model, const at::Tensor& patches, int64_t batch_size = 256);
// mse, mae, pcc_f, pcc_s, pcc_m, genes_pcc_ge_0_3, n_genes, n_spots (NaN PCC counts as 0).
STX_API std::map<std::string, double> regression_metrics(const at::Tensor& pred, const at::Tensor& target);

}  // namespace stx::modules

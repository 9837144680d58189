#pragma once
// The commands both front ends run (`stx-train <cmd>` and `python -m stx <cmd>`): same options,
// same outputs (checkpoint.pt, metrics.json), so either front end's results are the other's input.
#include <functional>
#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/train/config.h>
#include <stx/train/data.h>
#include <stx/train/loop.h>

namespace stx::train {

struct RunOptions {
  std::string data;           // "" = a generated synthetic study
  std::string sections;       // comma-separated (train / evaluate)
  std::string test_sections;  // demo: held-out sections ("" = the last)
  std::string out;
  std::string checkpoint;     // evaluate
  std::string selection;      // train: selection.json written by `sample` ("" = every spot)
  bool force = false;         // replace results already in `out`
  bool resume = false;        // train: continue `out`/checkpoint.pt if it holds an unfinished run
  bool retrieval = true;      // false: the regression-only ablation
};

using Log = std::function<void(const std::string&)>;

// Checks `out` before any work: creates it, refuses to replace results without `force` (unless
// `allow_checkpoint` and only a checkpoint is there), and proves it is writable.
STX_API std::string prepare_out(const std::string& out, bool force, bool allow_checkpoint = false);

// train: fits config["model"] on `sections`, writes out/checkpoint.pt and out/metrics.json (training spots).
STX_API void run_train(const RunOptions& options, const Config& config, const TrainHooks& hooks = {},
                       const Log& log = {});
// evaluate: the checkpoint on `sections` -> out/metrics.json (with the mean-predictor baseline).
STX_API void run_evaluate(const RunOptions& options, const Config& config, const Log& log = {});
// The native demo: train on every section but the held-out ones, evaluate on those (no sampling).
STX_API void run_holdout(const RunOptions& options, const Config& config, const Log& log = {});

// The (train, held-out) split of a demo: `test_names` comma-separated, or the last section.
STX_API void split_sections(const std::vector<Section>& sections, const std::string& test_names,
                            std::vector<Section>* train, std::vector<Section>* test);
// Indices of a selection.json (keys "sections" and "indices") into a pool of n spots over `names`.
STX_API std::vector<int64_t> read_selection(const std::string& path, const std::vector<std::string>& names, int64_t n);

}  // namespace stx::train

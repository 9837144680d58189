#include <stx/train/commands.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include <stx/modules/spot_labels.h>
#include <stx/stx.h>
#include <stx/train/checkpoint.h>
#include <stx/train/data.h>
#include <stx/train/metrics.h>

namespace stx::train {
namespace fs = std::filesystem;
namespace {

using json = nlohmann::json;
const char* const kResultFiles[] = {"metrics.json", "report.md", "checkpoint.pt", "selection.json"};

void say(const Log& log, const std::string& msg) {
  if (log) log(msg);
}

at::Tensor rows(const at::Tensor& t, const std::vector<int64_t>& idx) {
  return t.index_select(0, at::tensor(idx, at::kLong));
}

std::string joined(const std::vector<std::string>& names) {
  std::string s;
  for (const auto& n : names) s += (s.empty() ? "" : ",") + n;
  return s;
}

// The validation record of a run with config val_fraction > 0 (null without).
json validation_json(const TrainResult& result) {
  if (result.validation.empty()) return nullptr;
  json steps = json::array(), losses = json::array();
  for (const auto& [step, v] : result.validation) {
    steps.push_back(step);
    losses.push_back(v);
  }
  const auto held = result.validation_indices.contiguous();
  const std::vector<int64_t> rows(held.const_data_ptr<int64_t>(), held.const_data_ptr<int64_t>() + held.numel());
  return {{"spots", held.numel()}, {"rows", rows}, {"steps", steps}, {"mse", losses}, {"best_step", result.best_step}};
}

// Fits the model on the pool's rows `idx`, writes the checkpoint (of the best validation model when
// config val_fraction > 0).
TrainResult fit(const Pool& pool, const std::vector<int64_t>& idx,
                                    const std::vector<std::string>& genes, const Config& config,
                                    const RunOptions& o, const TrainHooks& hooks, const fs::path& out,
                                    const std::string& resume_from, const Log& log) {
  TORCH_CHECK(!find_recipe(config.string("model")).dense, "config 'model' '", config.string("model"),
              "' is a dense model trained on image tiles: run the pixnet command (stx-train pixnet / python -m stx pixnet)");
  TrainRequest r;
  r.patches = rows(pool.patches, idx);
  r.targets = rows(pool.targets, idx);
  r.labels = stx::modules::spot_labels(pool.targets, 8, 16, static_cast<uint64_t>(config.integer("seed")));
  r.labels = rows(r.labels, idx);
  r.seed = static_cast<uint64_t>(config.integer("seed"));
  r.retrieval = o.retrieval;
  r.genes = genes;
  r.checkpoint_path = (out / "checkpoint.pt").string();
  r.resume_from = resume_from;
  say(log, "training " + config.string("model") + " on " + std::to_string(idx.size()) + " spots, " +
               std::to_string(genes.size()) + " genes, " + std::to_string(config.integer("steps")) + " steps");
  auto result = train_model(r, config, hooks);
  if (hooks.rank == 0) {
    Checkpoint c;
    c.recipe = config.string("model");
    c.model = module_state(result.model->module());
    c.genes = genes;
    c.config = config;
    c.stx_version = stx::library_version();
    c.retrieval = o.retrieval;
    c.train_mean = r.targets.mean(0);
    save_checkpoint(c, r.checkpoint_path);
  }
  if (!result.validation.empty()) {
    say(log, "validation on " + std::to_string(result.validation_indices.numel()) + " held-back spots: best at step " +
                 std::to_string(result.best_step) + " of " + std::to_string(config.integer("steps")));
  }
  return result;
}

}  // namespace

std::string prepare_out(const std::string& out, bool force, bool allow_checkpoint) {
  TORCH_CHECK(!out.empty(), "--out is required");
  const fs::path dir(out);
  TORCH_CHECK(!fs::exists(dir) || fs::is_directory(dir), "--out ", out, " exists and is not a folder");
  if (fs::is_directory(dir) && !force) {
    std::string taken;
    for (const char* name : kResultFiles) {
      if (allow_checkpoint && std::string(name) == "checkpoint.pt") continue;
      if (fs::exists(dir / name)) taken += (taken.empty() ? "" : ", ") + std::string(name);
    }
    TORCH_CHECK(taken.empty(), "--out ", out, " already holds results (", taken,
                "); choose another folder or pass --force",
                taken == "checkpoint.pt" ? " (or --resume an unfinished training run)" : "");
  }
  std::error_code ec;
  fs::create_directories(dir, ec);
  TORCH_CHECK(!ec, "--out ", out, " cannot be created: ", ec.message());
  const auto probe = (dir / ".stx-write-probe").string();
  try {
    write_file_atomic(probe, "ok\n");
  } catch (const c10::Error&) {
    TORCH_CHECK(false, "--out ", out, " is not writable; choose a folder you can write to");
  }
  fs::remove(probe, ec);
  return out;
}

void split_sections(const std::vector<Section>& sections, const std::string& test_names, std::vector<Section>* train,
                    std::vector<Section>* test) {
  std::vector<std::string> names;
  for (const auto& s : sections) names.push_back(s.name);
  TORCH_CHECK(sections.size() >= 2, "need at least two sections (train and held-out), the data has [", joined(names),
              "]");
  *test = pick_sections(sections, test_names.empty() ? names.back() : test_names, "--test-sections");
  train->clear();
  for (const auto& s : sections) {
    bool held = false;
    for (const auto& t : *test) held = held || t.name == s.name;
    if (!held) train->push_back(s);
  }
  TORCH_CHECK(!train->empty(), "every section is held out; keep at least one for training");
}

std::vector<int64_t> read_selection(const std::string& path, const std::vector<std::string>& names, int64_t n) {
  TORCH_CHECK(fs::is_regular_file(path), "--selection ", path, " does not exist");
  json j;
  try {
    std::ifstream in(path);
    j = json::parse(in);
  } catch (const json::exception& e) {
    TORCH_CHECK(false, "--selection ", path, " is not valid JSON: ", e.what());
  }
  TORCH_CHECK(j.is_object() && j.contains("sections") && j.contains("indices") && j["indices"].is_array(),
              "--selection ", path, " lacks 'sections' and 'indices'");
  TORCH_CHECK(j["sections"] == json(names), "--selection ", path, " was made for sections ", j["sections"].dump(),
              ", not ", json(names).dump());
  std::vector<int64_t> idx;
  for (const auto& v : j["indices"]) {
    TORCH_CHECK(v.is_number_integer() && v.get<int64_t>() >= 0 && v.get<int64_t>() < n, "--selection ", path,
                " has an index outside [0, ", n, "): ", v.dump());
    idx.push_back(v.get<int64_t>());
  }
  TORCH_CHECK(idx.size() >= 2, "--selection ", path, " selects ", idx.size(), " spots; training needs at least 2");
  return idx;
}

void run_train(const RunOptions& o, const Config& config, const TrainHooks& hooks, const Log& log) {
  const fs::path out(o.out);
  std::string resume_from;
  if (o.resume && fs::is_regular_file(out / "checkpoint.pt")) resume_from = (out / "checkpoint.pt").string();
  if (hooks.rank == 0) prepare_out(o.out, o.force, o.resume);
  TORCH_CHECK(!o.sections.empty(), "--sections is required");
  auto sections = pick_sections(load_sections(o.data, config, o.out), o.sections);
  auto genes = choose_genes(sections, config);
  auto pool = make_pool(sections, genes);
  const int64_t n = pool.targets.size(0);
  std::vector<int64_t> idx;
  if (o.selection.empty()) {
    for (int64_t i = 0; i < n; ++i) idx.push_back(i);
  } else {
    idx = read_selection(o.selection, pool.names, n);
  }
  if (!resume_from.empty()) say(log, "resuming from " + resume_from);
  const auto trained = fit(pool, idx, genes, config, o, hooks, out, resume_from, log);
  const auto& model = trained.model;
  if (hooks.rank != 0) return;
  auto targets = rows(pool.targets, idx);
  auto metrics = regression_metrics(predict(*model, rows(pool.patches, idx), config.string("device")), targets);
  metrics["split"] = "train";
  metrics["validation"] = validation_json(trained);
  metrics["sections"] = pool.names;
  metrics["model"] = config.string("model");
  metrics["stx_version"] = stx::library_version();
  write_json((out / "metrics.json").string(), metrics);
  say(log, "checkpoint -> " + (out / "checkpoint.pt").string() + " (training pcc_m " +
               std::to_string(metrics["pcc_m"].get<double>()) + ")");
}

void run_evaluate(const RunOptions& o, const Config& config, const Log& log) {
  TORCH_CHECK(!o.checkpoint.empty(), "--checkpoint is required");
  auto ck = load_checkpoint(o.checkpoint);  // before any output: a bad checkpoint leaves nothing behind
  TORCH_CHECK(!find_recipe(ck.recipe).dense, "--checkpoint ", o.checkpoint, " holds the dense model '", ck.recipe,
              "': evaluate it with the pixnet command");
  // The model and its patches are the checkpoint's; where it runs is this run's.
  json values = ck.config.values;
  values["device"] = config.string("device");
  values["num_threads"] = config.integer("num_threads");
  const auto run_config = resolve_config(values, "--checkpoint " + o.checkpoint + " config");
  prepare_out(o.out, o.force);
  TORCH_CHECK(!o.sections.empty(), "--sections is required");
  auto sections = pick_sections(load_sections(o.data, run_config, o.out), o.sections);
  for (const auto& s : sections) {
    for (const auto& g : ck.genes) {
      TORCH_CHECK(std::find(s.gene_names.begin(), s.gene_names.end(), g) != s.gene_names.end(),
                  "--checkpoint was trained on ", ck.genes.size(), " genes; section ", s.name, " lacks '", g,
                  "': a checkpoint from another gene set");
    }
  }
  auto pool = make_pool(sections, ck.genes);
  auto model = build_model(run_config, static_cast<int64_t>(ck.genes.size()));
  load_module_state(model->module(), ck.model, "--checkpoint " + o.checkpoint);
  auto pred = predict(*model, pool.patches, run_config.string("device"));
  auto metrics = regression_metrics(pred, pool.targets, pool.coords, ck.genes);
  if (ck.train_mean.defined()) metrics["mean_predictor"] = mean_predictor_metrics(ck.train_mean, pool.targets);
  metrics["split"] = "evaluate";
  metrics["sections"] = pool.names;
  metrics["model"] = ck.recipe;
  metrics["stx_version"] = stx::library_version();
  write_json((fs::path(o.out) / "metrics.json").string(), metrics);
  say(log, "pcc_m " + std::to_string(metrics["pcc_m"].get<double>()) + ", genes with PCC >= 0.3: " +
               std::to_string(metrics["genes_pcc_ge_0_3"].get<int64_t>()) + " -> " +
               (fs::path(o.out) / "metrics.json").string());
}

void run_holdout(const RunOptions& o, const Config& config, const Log& log) {
  prepare_out(o.out, o.force);
  std::vector<Section> train, test;
  split_sections(load_sections(o.data, config, o.out), o.test_sections, &train, &test);
  auto genes = choose_genes(train, config);
  auto pool = make_pool(train, genes);
  std::vector<int64_t> idx;
  for (int64_t i = 0; i < pool.targets.size(0); ++i) idx.push_back(i);
  const auto trained = fit(pool, idx, genes, config, o, {}, fs::path(o.out), "", log);
  const auto& model = trained.model;
  auto held = make_pool(test, genes);
  auto metrics = regression_metrics(predict(*model, held.patches, config.string("device")), held.targets, held.coords,
                                    genes);
  metrics["mean_predictor"] = mean_predictor_metrics(pool.targets.mean(0), held.targets);
  metrics["split"] = "held-out";
  metrics["validation"] = validation_json(trained);
  metrics["sections"] = held.names;
  metrics["train_sections"] = pool.names;
  metrics["model"] = config.string("model");
  metrics["stx_version"] = stx::library_version();
  write_json((fs::path(o.out) / "metrics.json").string(), metrics);
  say(log, "held-out pcc_m " + std::to_string(metrics["pcc_m"].get<double>()) + " -> " +
               (fs::path(o.out) / "metrics.json").string());
}

}  // namespace stx::train

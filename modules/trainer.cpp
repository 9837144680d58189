#include <stx/modules/trainer.h>

#include <ATen/ATen.h>
#include <torch/optim/adamw.h>
#include <torch/utils.h>

#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>

#include <stx/data/preprocess.h>
#include <stx/data/slide.h>
#include <stx/data/patch.h>
#include <stx/data/synthetic.h>
#include <stx/data/visium.h>
#include <stx/modules/scr2net_training.h>
#include <stx/ops/metrics.h>

namespace stx::modules {
namespace fs = std::filesystem;
namespace {

// Keys of the Python PipelineConfig that only the Python pipeline uses (sampling, and shard_bank,
// which applies under torch.distributed); the native trainer accepts and ignores them.
const std::set<std::string> kPythonOnlyKeys = {"budgets", "samplers", "seeds", "ablation", "scrl_episodes",
                                               "shard_bank"};

template <typename T>
void read_key(const nlohmann::json& j, const char* key, T& into) {
  if (!j.contains(key)) return;
  try {
    into = j.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    TORCH_CHECK(false, "config '", key, "' has the wrong type: ", j.at(key).dump());
  }
}

TrainerSection section_from_sample(const std::string& name, const stx::data::SpatialSample& sample,
                                   const TrainerConfig& config) {
  TORCH_CHECK(!sample.image_path.empty(), "section ", name, ": no image to cut spot patches from");
  TORCH_CHECK(std::isfinite(sample.microns_per_pixel), "section ", name, ": the image has no um/px");
  const double scale = sample.image_scale;
  stx::data::SlideReader slide(sample.image_path, sample.microns_per_pixel / scale);
  auto coords = sample.coords_px.to(at::kDouble);
  TrainerSection s;
  s.name = name;
  s.patches = stx::data::extract_patches(slide, coords * scale, config.patch_um / config.patch_size,
                                         config.patch_size);
  s.counts = sample.counts.is_sparse_csr() ? sample.counts.to_dense().to(at::kFloat) : sample.counts.to(at::kFloat);
  s.coords = coords;
  s.gene_names = sample.gene_names;
  return s;
}

at::Tensor imagenet_input(const at::Tensor& patches_u8, const std::string& device) {
  auto x = patches_u8.to(at::Device(device), at::kFloat).div(255.0);
  auto mean = at::tensor({0.485, 0.456, 0.406}, x.options()).view({1, 3, 1, 1});
  auto std = at::tensor({0.229, 0.224, 0.225}, x.options()).view({1, 3, 1, 1});
  return (x - mean) / std;
}

}  // namespace

TrainerConfig load_trainer_config(const std::string& json_path) {
  TrainerConfig c;
  if (json_path.empty()) return c;
  std::ifstream in(json_path);
  TORCH_CHECK(in.good(), "config file ", json_path, " cannot be opened");
  nlohmann::json j;
  try {
    in >> j;
  } catch (const nlohmann::json::exception& e) {
    TORCH_CHECK(false, "config file ", json_path, " is not valid JSON: ", e.what());
  }
  TORCH_CHECK(j.is_object(), "config file ", json_path, ": the config must be a mapping of keys to values");
  static const std::set<std::string> known = {
      "seed", "top_genes", "genes_file", "patch_size", "patch_um", "steps", "batch_size", "lr", "weight_decay",
      "backbone", "width", "retrieval_k", "retrieval_types", "soft_weight", "soft_threshold", "contrastive_weight",
      "temperature", "device", "synthetic_sections", "synthetic_image_px", "num_threads"};
  for (const auto& item : j.items()) {
    TORCH_CHECK(known.count(item.key()) || kPythonOnlyKeys.count(item.key()), json_path, ": unknown key '", item.key(),
                "'");
  }
  read_key(j, "seed", c.seed);
  read_key(j, "top_genes", c.top_genes);
  if (j.contains("genes_file") && !j.at("genes_file").is_null()) read_key(j, "genes_file", c.genes_file);
  read_key(j, "patch_size", c.patch_size);
  read_key(j, "patch_um", c.patch_um);
  read_key(j, "steps", c.steps);
  read_key(j, "batch_size", c.batch_size);
  read_key(j, "lr", c.lr);
  read_key(j, "weight_decay", c.weight_decay);
  read_key(j, "backbone", c.backbone);
  read_key(j, "width", c.width);
  read_key(j, "retrieval_k", c.retrieval_k);
  read_key(j, "retrieval_types", c.retrieval_types);
  read_key(j, "soft_weight", c.soft_weight);
  read_key(j, "soft_threshold", c.soft_threshold);
  read_key(j, "contrastive_weight", c.contrastive_weight);
  read_key(j, "temperature", c.temperature);
  read_key(j, "device", c.device);
  read_key(j, "synthetic_sections", c.synthetic_sections);
  read_key(j, "synthetic_image_px", c.synthetic_image_px);
  read_key(j, "num_threads", c.num_threads);
  if (j.contains("budgets")) {
    for (const auto& b : j.at("budgets")) {
      TORCH_CHECK(b.is_number() && b.get<double>() > 0 && b.get<double>() <= 1,
                  "config 'budgets': every budget must be in (0, 1], got ", b.dump());
    }
  }
  for (auto [key, value] : {std::pair{"steps", c.steps}, {"batch_size", c.batch_size}, {"top_genes", c.top_genes},
                            {"patch_size", c.patch_size}, {"retrieval_k", c.retrieval_k},
                            {"retrieval_types", c.retrieval_types}, {"width", c.width}}) {
    TORCH_CHECK(value > 0, "config '", key, "' must be a positive integer, got ", value);
  }
  TORCH_CHECK(c.lr > 0 && c.patch_um > 0 && c.temperature > 0, "config 'lr', 'patch_um' and 'temperature' must be > 0");
  return c;
}

std::vector<TrainerSection> load_trainer_sections(const std::string& data, const TrainerConfig& config,
                                                  const std::string& work_dir) {
  std::vector<TrainerSection> sections;
  stx::data::MatrixOptions dense;
  dense.dense = true;
  if (data.empty() || fs::is_regular_file(fs::path(data) / "study.json")) {
    std::vector<std::pair<std::string, std::string>> folders;
    if (data.empty()) {
      stx::data::SyntheticOptions o;
      o.seed = static_cast<uint64_t>(config.seed);
      o.n_sections = config.synthetic_sections;
      o.image_size_px = config.synthetic_image_px;
      auto study = stx::data::make_synthetic((fs::path(work_dir) / "synthetic").string(), o);
      for (const auto& s : study.sections) folders.emplace_back(s.name, s.folder);
    } else {
      for (const auto& entry : fs::directory_iterator(data)) {
        if (entry.is_directory() && fs::exists(entry.path() / "spatial")) {
          folders.emplace_back(entry.path().filename().string(), entry.path().string());
        }
      }
      std::sort(folders.begin(), folders.end());
    }
    for (const auto& [name, folder] : folders) {
      sections.push_back(section_from_sample(name, stx::data::read_visium(folder, dense), config));
    }
    return sections;
  }
  TORCH_CHECK(fs::is_directory(fs::path(data) / "spatial"), "--data ", data,
              ": not a synthetic study (study.json) or a Visium folder (spatial/)");
  sections.push_back(section_from_sample(fs::path(data).filename().string(), stx::data::read_visium(data, dense), config));
  return sections;
}

std::vector<std::string> choose_genes(const std::vector<TrainerSection>& sections, const TrainerConfig& config) {
  TORCH_CHECK(!sections.empty(), "choose_genes: no sections");
  std::set<std::string> common(sections[0].gene_names.begin(), sections[0].gene_names.end());
  for (size_t i = 1; i < sections.size(); ++i) {
    std::set<std::string> next;
    for (const auto& g : sections[i].gene_names) {
      if (common.count(g)) next.insert(g);
    }
    common = std::move(next);
  }
  if (!config.genes_file.empty()) {
    std::ifstream in(config.genes_file);
    TORCH_CHECK(in.good(), "genes_file ", config.genes_file, " cannot be opened (the native trainer reads text lists)");
    std::vector<std::string> genes;
    for (std::string line; std::getline(in, line);) {
      if (!line.empty() && line[0] != '#' && common.count(line)) genes.push_back(line);
    }
    TORCH_CHECK(!genes.empty(), "genes_file ", config.genes_file, ": none of its genes is in every section");
    return genes;
  }
  std::vector<std::string> names(common.begin(), common.end());  // sorted, as the Python pipeline
  auto totals = at::zeros({static_cast<int64_t>(names.size())}, at::kDouble);
  for (const auto& s : sections) {
    totals += panel_targets(s, names).to(at::kDouble).sum(0);
  }
  auto order = std::get<1>(at::sort(totals, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  std::vector<std::string> genes;
  for (int64_t i = 0; i < std::min<int64_t>(config.top_genes, order.numel()); ++i) {
    genes.push_back(names[order[i].item<int64_t>()]);
  }
  return genes;
}

at::Tensor panel_targets(const TrainerSection& section, const std::vector<std::string>& genes) {
  std::map<std::string, int64_t> lookup;
  for (size_t i = 0; i < section.gene_names.size(); ++i) lookup.emplace(section.gene_names[i], static_cast<int64_t>(i));
  std::vector<int64_t> columns;
  for (const auto& g : genes) {
    auto it = lookup.find(g);
    TORCH_CHECK(it != lookup.end(), "section ", section.name, " lacks the panel gene '", g, "'");
    columns.push_back(it->second);
  }
  auto norm = stx::data::normalize_total(section.counts, 1e4, /*log1p=*/true);
  return norm.index_select(1, at::tensor(columns, at::kLong)).to(at::kFloat).contiguous();
}

SCR2Net make_scr2net(const TrainerConfig& config, int64_t num_genes) {
  return SCR2Net(SCR2NetOptions{num_genes, config.backbone, config.width, 256, 64, 0.1});
}

SCR2Net train_scr2net(const at::Tensor& patches, const at::Tensor& targets, const at::Tensor& labels,
                      const TrainerConfig& config, uint64_t seed, bool retrieval) {
  const int64_t n = patches.size(0);
  TORCH_CHECK(n >= 2 && targets.size(0) == n && labels.size(0) == n,
              "train_scr2net: need >= 2 spots and one row of patches, targets and labels per spot");
  torch::manual_seed(seed);
  auto gen = at::make_generator<at::CPUGeneratorImpl>(seed);
  auto model = make_scr2net(config, targets.size(1));
  model->to(at::Device(config.device));
  model->train();
  {
    torch::NoGradGuard no_grad;  // start the regression head at the mean profile
    model->named_parameters()["regressor.fc2.bias"].copy_(targets.mean(0));
  }
  torch::optim::AdamW opt(model->parameters(), torch::optim::AdamWOptions(config.lr).weight_decay(config.weight_decay));
  auto bank_values = targets.to(at::Device(config.device));
  auto bank_labels = labels.to(at::Device(config.device));
  SCR2NetLossOptions options{retrieval, config.retrieval_k, config.retrieval_types, labels.max().item<int64_t>() + 1,
                             "mean", config.soft_weight, config.soft_threshold, config.contrastive_weight,
                             config.temperature};
  const int64_t batch = std::min(config.batch_size, n);
  auto order = at::randperm(n, gen);
  int64_t cursor = 0;
  for (int64_t step = 0; step < config.steps; ++step) {
    if (cursor + batch > n) {
      order = at::randperm(n, gen);
      cursor = 0;
    }
    auto idx = order.slice(0, cursor, cursor + batch);
    cursor += batch;
    auto x = imagenet_input(patches.index_select(0, idx), config.device);
    // A random element of the dihedral group per batch (flips and quarter turns keep morphology).
    const int64_t turns = at::randint(0, 4, {1}, gen).item<int64_t>();
    x = at::rot90(x, turns, {2, 3});
    if (at::randint(0, 2, {1}, gen).item<int64_t>()) x = at::flip(x, {3});
    // Cosine learning-rate schedule, as the Python trainer.
    for (auto& group : opt.param_groups()) {
      group.options().set_lr(config.lr * 0.5 * (1.0 + std::cos(M_PI * step / config.steps)));
    }
    auto [loss, pred] =
        scr2net_training_loss(*model, x, bank_values.index_select(0, idx.to(bank_values.device())), bank_values,
                              bank_labels, options);
    opt.zero_grad();
    loss.backward();
    opt.step();
  }
  model->eval();
  return model;
}

at::Tensor predict(SCR2Net& model, const at::Tensor& patches, int64_t batch_size) {
  torch::NoGradGuard no_grad;
  model->eval();
  const auto device = model->parameters().front().device();
  std::vector<at::Tensor> out;
  for (int64_t i = 0; i < patches.size(0); i += batch_size) {
    auto x = imagenet_input(patches.slice(0, i, i + batch_size), device.str());
    out.push_back(std::get<1>(model->forward(x)).cpu());
  }
  return at::cat(out);
}

std::map<std::string, double> regression_metrics(const at::Tensor& pred_in, const at::Tensor& target_in) {
  TORCH_CHECK(pred_in.sizes() == target_in.sizes() && pred_in.dim() == 2,
              "regression_metrics: pred and target must both be [spots, genes]");
  auto pred = pred_in.to(at::kDouble), target = target_in.to(at::kDouble);
  auto pcc = at::nan_to_num(stx::ops::pearson_per_gene(pred, target), 0.0);
  auto diff = pred - target;
  return {{"mse", diff.pow(2).mean().item<double>()},
          {"mae", diff.abs().mean().item<double>()},
          {"pcc_f", at::quantile(pcc, 0.25).item<double>()},
          {"pcc_s", at::quantile(pcc, 0.5).item<double>()},
          {"pcc_m", pcc.mean().item<double>()},
          {"genes_pcc_ge_0_3", (pcc >= 0.3).sum().item<double>()},
          {"n_genes", static_cast<double>(target.size(1))},
          {"n_spots", static_cast<double>(target.size(0))}};
}

}  // namespace stx::modules

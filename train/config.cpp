#include <stx/train/config.h>

#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <cstdint>
#include <fstream>
#include <limits>
#include <set>
#include <sstream>

#include <stx/modules/backbones.h>
#include <stx/modules/scr2net.h>
#include <stx/train/recipe.h>

namespace stx::train {
namespace {

using json = nlohmann::json;
constexpr double kIntMax = 9223372036854775807.0;

ConfigKey key(std::string name, std::string type, json value, std::string doc, std::string used_by = "all") {
  ConfigKey k;
  k.name = std::move(name);
  k.type = std::move(type);
  k.default_value = std::move(value);
  k.doc = std::move(doc);
  k.used_by = std::move(used_by);
  return k;
}

ConfigKey ranged(ConfigKey k, double min, double max, bool min_exclusive = false) {
  k.min = min;
  k.max = max;
  k.min_exclusive = min_exclusive;
  return k;
}

ConfigKey with_flag(ConfigKey k, std::string flag) {
  k.flag = std::move(flag);
  return k;
}

ConfigKey with_choices(ConfigKey k, std::vector<std::string> choices) {
  k.choices = std::move(choices);
  return k;
}

std::vector<ConfigKey> build_schema() {
  const stx::modules::SCR2NetOptions scr2net;  // the library's recipe widths
  return {
      with_flag(ranged(key("seed", "int", 0, "seed of the synthetic study, spot labels, sampling and training"), 0,
                       kIntMax),
                "--seed"),
      with_flag(ranged(key("top_genes", "int", 50, "gene panel: the top-N genes by mean log1p expression"), 1,
                       1e6),
                "--top-genes"),
      with_flag(key("genes_file", "path?", nullptr,
                    "or an explicit gene list (.npy of strings, or text with one name per line)"),
                "--genes"),
      ranged(key("patch_size", "int", 32, "pixels of the square patch fed to the network"), 1, 4096),
      ranged(key("patch_um", "float", 80.0, "physical side of the patch (um), centred on the spot"), 0, 1e5, true),
      ranged(key("steps", "int", 150, "optimisation steps per training run"), 1, 1e9),
      ranged(key("batch_size", "int", 32, "spots per step"), 1, 1e6),
      ranged(key("lr", "float", 2e-3, "AdamW learning rate (cosine schedule to 0)"), 0, 10, true),
      ranged(key("weight_decay", "float", 1e-4, "AdamW weight decay"), 0, 10),
      with_choices(key("model", "string", "scr2net", "model recipe (see stx::train::recipe_names())"), {}),
      key("backbone", "string", "small_cnn",
          "image backbone: small_cnn, resnet18, resnet50, densenet121, mobilenet_v2, efficientnet_b0 or a TorchScript "
          "file"),
      key("backbone_weights", "path?", nullptr,
          "state_dict file (torch.save'd, e.g. torchvision ImageNet weights) for a native backbone; null: random init"),
      with_choices(key("augment", "string", "dihedral",
                       "training augmentation preset (stx/data/augment.h): dihedral, morphology (flips, transpose, "
                       "shift-scale-rotate), stnet (rotations, flips, colour jitter, blur) or none"),
                   {"dihedral", "morphology", "stnet", "none"}),
      ranged(key("width", "int", 16, "SmallCNN width"), 1, 4096),
      ranged(key("hidden_dim", "int", scr2net.hidden_dim, "regression MLP width"), 1, 1 << 16),
      ranged(key("projection_dim", "int", scr2net.projection_dim, "retrieval space width"), 1, 1 << 16),
      ranged(key("dropout", "float", scr2net.dropout, "dropout of the regression head"), 0, 1, false),
      ranged(key("retrieval_k", "int", 16, "bank spots retrieved per image"), 1, 1e6),
      ranged(key("retrieval_types", "int", 3, "majority filter: keep the most frequent spot labels"), 1, 1e6),
      ranged(key("soft_weight", "float", 0.5, "weight of the soft-label term"), 0, 1e6),
      ranged(key("soft_threshold", "float", 0.1, "confidence gate of the soft labels"), 0, 1),
      ranged(key("contrastive_weight", "float", 0.1, "weight of the contrastive term"), 0, 1e6),
      ranged(key("temperature", "float", 0.5, "contrastive temperature"), 0, 1e6, true),
      ranged(key("val_fraction", "float", 0.0,
                 "share of the training spots held back (fixed split from the seed) to pick the best model by "
                 "validation MSE (0: train on all, keep the last model)"),
             0, 0.9),
      ranged(key("val_every", "int", 50, "with val_fraction: validate every N steps (and after the last)"), 1, 1e9),
      ranged(key("tile_px", "int", 192,
                 "dense models (pixnet): side of a training tile in pixels of patch_um / patch_size um each"),
             16, 8192),
      ranged(key("tile_batch", "int", 4, "dense models: tiles per step"), 1, 4096),
      ranged(key("decoder_channels", "int", 64, "dense models: channels of the feature-pyramid decoder"), 1, 4096),
      ranged(key("pcc_weight", "float", 0.5, "dense models: weight of PixNet's (1 - PCC) term of the tile loss"), 0,
             1e6),
      with_choices(key("border", "string", "drop",
                       "dense models: regions cut by a tile's border are left out (drop) or extrapolated and "
                       "weighted by their covered fraction (weight)"),
                   {"drop", "weight"}),
      key("train_scales", "string_list", json::array({"spots"}),
          "dense models: region sets trained on (spots, or a synthetic study's scale folders, e.g. square_016um)"),
      ranged(key("eval_max_regions", "int", 20000,
                 "pixnet: evaluate at most this many regions per scale and section (a seeded subset)"),
             1, 1e9),
      ranged(key("stitch_margin", "int", 64,
                 "pixnet: context pixels around each inference tile (at least the model's receptive-field radius)"),
             0, 8192),
      ranged(key("checkpoint_every", "int", 0, "write a resumable checkpoint every N steps (0: only at the end)"), 0,
             1e9),
      with_flag(key("device", "string", "cpu", "cpu, cuda or cuda:<i>"), "--device"),
      ranged(key("num_threads", "int", 0, "intra-op threads (0: torch's default)"), 0, 4096),
      ranged(key("synthetic_sections", "int", 4, "sections of the generated study (no --data)"), 1, 64),
      ranged(key("synthetic_image_px", "int", 2400, "side of a generated section's image (1.25 um/px)"), 200, 20000),
      ranged(key("budgets", "float_list", json::array({0.10, 0.15, 0.25, 0.50}), "demo: fractions of the pool to sequence",
                 "python"),
             0, 1, true),
      with_choices(key("samplers", "string_list", json::array({"scrl", "random", "grid", "coreset"}),
                       "demo: samplers compared", "python"),
                   {"scrl", "random", "grid", "coreset"}),
      with_flag(ranged(key("seeds", "int", 1, "demo: repeats of sampling + training per (sampler, budget)", "python"), 1,
                       1000),
                "--seeds"),
      key("ablation", "bool", true, "demo: also train the regression-only model", "python"),
      ranged(key("scrl_episodes", "int", 30, "demo: policy-gradient episodes of the learned sampler", "python"), 1,
             1e6),
      key("shard_bank", "bool", false, "under torch.distributed: each rank keeps only its rows of the bank",
          "python"),
  };
}

std::string dump(const json& v) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return std::isnan(v.get<double>()) ? "NaN" : "Inf";
  return v.dump();
}

double number_of(const json& v, const ConfigKey& k, const std::string& prefix) {
  TORCH_CHECK(v.is_number() && !v.is_boolean(), prefix, "config '", k.name, "' must be a number, got ", dump(v));
  const double x = v.get<double>();
  TORCH_CHECK(std::isfinite(x), prefix, "config '", k.name, "' must be finite, got ", dump(v));
  const bool low_ok = k.min_exclusive ? x > k.min : x >= k.min;
  TORCH_CHECK(low_ok && x <= k.max, prefix, "config '", k.name, "' must be in ", k.min_exclusive ? "(" : "[", k.min,
              ", ", k.max, "], got ", dump(v));
  return x;
}

json check_value(const json& v, const ConfigKey& k, const std::string& prefix) {
  const std::string where = prefix + "config '" + k.name + "'";
  if (k.type == "path?" && v.is_null()) return v;
  TORCH_CHECK(!v.is_null(), where, " must not be null (leave the key out for its default ", k.default_value.dump(),
              ")");
  if (k.type == "int") {
    TORCH_CHECK(v.is_number() && !v.is_boolean(), where, " must be an integer, got ", dump(v));
    const double x = v.get<double>();
    TORCH_CHECK(std::isfinite(x) && x == std::floor(x) && std::fabs(x) < kIntMax, where, " must be an integer, got ",
                dump(v));
    TORCH_CHECK(!v.is_number_unsigned() || v.get<uint64_t>() <= static_cast<uint64_t>(INT64_MAX), where,
                " is out of the 64-bit integer range, got ", dump(v));
    (void)number_of(v, k, prefix);
    return json(v.is_number_integer() ? v.get<int64_t>() : static_cast<int64_t>(x));
  }
  if (k.type == "float") return json(number_of(v, k, prefix));
  if (k.type == "bool") {
    TORCH_CHECK(v.is_boolean(), where, " must be true or false, got ", dump(v));
    return v;
  }
  if (k.type == "string" || k.type == "path?") {
    TORCH_CHECK(v.is_string(), where, " must be a string, got ", dump(v));
    const auto s = v.get<std::string>();
    if (!k.choices.empty()) {
      TORCH_CHECK(std::find(k.choices.begin(), k.choices.end(), s) != k.choices.end(), where, ": unknown value '", s,
                  "'; choose from ", json(k.choices).dump());
    }
    return v;
  }
  TORCH_CHECK(v.is_array() && !v.empty(), where, " must be a non-empty list, got ", dump(v));
  json out = json::array();
  for (const auto& item : v) {
    if (k.type == "float_list") {
      out.push_back(number_of(item, k, prefix));
    } else {
      ConfigKey element = k;
      element.type = "string";
      out.push_back(check_value(item, element, prefix));
    }
  }
  return out;
}

const ConfigKey& find_key(const std::string& name) {
  for (const auto& k : config_schema()) {
    if (k.name == name) return k;
  }
  TORCH_CHECK(false, "config: no key '", name, "' in the schema");
}

}  // namespace

const std::vector<ConfigKey>& config_schema() {
  static const std::vector<ConfigKey> schema = [] {
    auto s = build_schema();
    for (auto& k : s) {
      if (k.name == "model") k.choices = recipe_names();
    }
    return s;
  }();
  return schema;
}

nlohmann::json config_schema_json() {
  json out = json::array();
  for (const auto& k : config_schema()) {
    json item = {{"name", k.name},       {"type", k.type},       {"default", k.default_value},
                 {"doc", k.doc},         {"used_by", k.used_by}, {"flag", k.flag},
                 {"choices", k.choices}, {"min_exclusive", k.min_exclusive}};
    item["min"] = k.min > -1e308 ? json(k.min) : json(nullptr);
    item["max"] = k.max < 1e308 ? json(k.max) : json(nullptr);
    out.push_back(std::move(item));
  }
  return out;
}

Config resolve_config(const nlohmann::json& values, const std::string& source) {
  // Errors read "<file>: config 'key' ..." (just "config 'key' ..." without a file).
  const std::string prefix = source == "config" ? "" : source + ": ";
  TORCH_CHECK(values.is_object(), source, ": the config must be a mapping of keys to values, got ", dump(values));
  std::set<std::string> known;
  for (const auto& k : config_schema()) known.insert(k.name);
  std::vector<std::string> unknown;
  for (const auto& item : values.items()) {
    if (!known.count(item.key())) unknown.push_back(item.key());
  }
  if (!unknown.empty()) {
    std::ostringstream names;
    for (size_t i = 0; i < unknown.size(); ++i) names << (i ? ", " : "") << "'" << unknown[i] << "'";
    TORCH_CHECK(false, source, ": unknown key(s) ", names.str(), "; known keys: ", json(known).dump());
  }
  Config c;
  c.values = json::object();
  for (const auto& k : config_schema()) {
    c.values[k.name] = values.contains(k.name) ? check_value(values.at(k.name), k, prefix) : k.default_value;
  }
  const auto device = c.values["device"].get<std::string>();
  const auto backbone = c.values["backbone"].get<std::string>();
  TORCH_CHECK(stx::modules::is_backbone(backbone), prefix, "config 'backbone': '", backbone,
              "' is neither a native backbone (small_cnn, resnet18, resnet50, densenet121, mobilenet_v2, "
              "efficientnet_b0) nor an existing TorchScript file");
  TORCH_CHECK(device == "cpu" || device == "cuda" || device.rfind("cuda:", 0) == 0, prefix,
              "config 'device' must be cpu or cuda[:i], got '", device, "'");
  return c;
}

nlohmann::json read_config_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  TORCH_CHECK(in.good(), "config file ", path, " cannot be opened");
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    std::string why = e.what();
    why = why.substr(0, why.find("; last read"));  // the echoed bytes may not be UTF-8 themselves
    TORCH_CHECK(false, "config file ", path, " is not valid UTF-8 JSON: ", why);
  }
}

int64_t Config::integer(const std::string& key) const {
  (void)find_key(key);
  return values.at(key).get<int64_t>();
}
double Config::number(const std::string& key) const {
  (void)find_key(key);
  return values.at(key).get<double>();
}
bool Config::flag(const std::string& key) const {
  (void)find_key(key);
  return values.at(key).get<bool>();
}
std::string Config::string(const std::string& key) const {
  (void)find_key(key);
  const auto& v = values.at(key);
  return v.is_null() ? std::string() : v.get<std::string>();
}
std::vector<double> Config::numbers(const std::string& key) const {
  (void)find_key(key);
  return values.at(key).get<std::vector<double>>();
}
std::vector<std::string> Config::strings(const std::string& key) const {
  (void)find_key(key);
  return values.at(key).get<std::vector<std::string>>();
}

}  // namespace stx::train

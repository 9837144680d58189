// The training layer from C++ alone: config resolution and its errors, a registered recipe, the
// checkpoint round trip (and refusal of non-checkpoints), metrics against a direct computation.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>

#include <stx/modules/scr2net.h>
#include <stx/train/checkpoint.h>
#include <stx/train/config.h>
#include <stx/train/loop.h>
#include <stx/train/metrics.h>
#include <stx/train/recipe.h>

using namespace stx::train;
using json = nlohmann::json;
namespace fs = std::filesystem;

namespace {
std::string error_of(const json& values) {
  try {
    resolve_config(values, "test.json");
  } catch (const c10::Error& e) {
    return e.what_without_backtrace();
  }
  return "";
}
}  // namespace

TEST(TrainConfig, DefaultsComeFromTheSchema) {
  const auto c = resolve_config(json::object());
  for (const auto& k : config_schema()) EXPECT_EQ(c.values.at(k.name), k.default_value) << k.name;
  EXPECT_EQ(c.integer("hidden_dim"), stx::modules::SCR2NetOptions{}.hidden_dim);
  EXPECT_EQ(c.string("genes_file"), "");
}

TEST(TrainConfig, BadValuesNameTheKey) {
  EXPECT_NE(error_of({{"learning_rate", 1}}).find("unknown key(s) 'learning_rate'"), std::string::npos);
  EXPECT_NE(error_of({{"steps", nullptr}}).find("'steps' must not be null"), std::string::npos);
  EXPECT_NE(error_of({{"seed", -1}}).find("'seed' must be in"), std::string::npos);
  EXPECT_NE(error_of({{"seed", 1.5}}).find("'seed' must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"seed", 1e23}}).find("'seed' must be an integer"), std::string::npos);
  EXPECT_NE(error_of({{"soft_weight", std::nan("")}}).find("'soft_weight' must be finite"), std::string::npos);
  EXPECT_NE(error_of({{"budgets", {0.5, 1.5}}}).find("'budgets' must be in (0, 1]"), std::string::npos);
  EXPECT_NE(error_of({{"samplers", {"oracle"}}}).find("unknown value 'oracle'"), std::string::npos);
  EXPECT_NE(error_of({{"device", "tpu"}}).find("'device'"), std::string::npos);
  EXPECT_NE(error_of({{"lr", {{"a", 1}}}}).find("'lr' must be a number"), std::string::npos);
  EXPECT_EQ(resolve_config({{"seed", 3.0}}).integer("seed"), 3);  // an integral float is an integer
}

TEST(TrainRecipe, SCR2NetIsRegistered) {
  const auto names = recipe_names();
  EXPECT_NE(std::find(names.begin(), names.end(), "scr2net"), names.end());
  auto model = build_model(resolve_config({{"width", 4}}), 5);
  auto pred = model->predict(at::randn({2, 3, 16, 16}));
  EXPECT_EQ(pred.sizes(), (std::vector<int64_t>{2, 5}));
  EXPECT_THROW(find_recipe("nope"), c10::Error);
}

TEST(TrainCheckpoint, RoundTripAndRefusal) {
  const auto dir = fs::temp_directory_path() / "stx_test_train_ckpt";
  fs::create_directories(dir);
  const auto config = resolve_config({{"width", 4}, {"top_genes", 3}});
  auto model = build_model(config, 3);
  Checkpoint c;
  c.recipe = "scr2net";
  c.model = module_state(model->module());
  c.genes = {"a", "b", "c"};
  c.config = config;
  c.train_mean = at::tensor({1.0f, 2.0f, 3.0f});
  const auto path = (dir / "checkpoint.pt").string();
  save_checkpoint(c, path);
  auto back = load_checkpoint(path);
  EXPECT_EQ(back.genes, c.genes);
  EXPECT_EQ(back.config.values, config.values);
  EXPECT_FALSE(back.has_train_state);
  ASSERT_EQ(back.model.size(), c.model.size());
  for (const auto& [name, t] : c.model) EXPECT_TRUE(at::equal(back.model.at(name), t)) << name;
  auto other = build_model(config, 3);
  load_module_state(other->module(), back.model, "test");
  model->module().eval();
  other->module().eval();
  EXPECT_TRUE(at::equal(other->predict(at::ones({1, 3, 16, 16})), model->predict(at::ones({1, 3, 16, 16}))));
  auto wrong = build_model(config, 4);  // another panel size: a shape mismatch that names the tensor
  EXPECT_THROW(load_module_state(wrong->module(), back.model, "test"), c10::Error);
  std::ofstream(dir / "junk.pt") << "not a zip";
  EXPECT_THROW(load_checkpoint((dir / "junk.pt").string()), c10::Error);
  // (std::filesystem::remove_all resolves to libtorch's copy, which crashes: remove file by file.)
  for (const char* name : {"checkpoint.pt", "junk.pt"}) std::remove((dir / name).c_str());
  ::rmdir(dir.c_str());
}

TEST(TrainMetrics, KeysValuesAndNaNAsNull) {
  auto target = at::tensor({1.0, 2.0, 3.0, 4.0, 1.0, 1.0, 1.0, 1.0}, at::kDouble).view({2, 4}).t().contiguous();
  auto pred = at::tensor({2.0, 4.0, 6.0, 8.0, 1.0, 2.0, 3.0, 4.0}, at::kDouble).view({2, 4}).t().contiguous();
  const auto m = regression_metrics(pred, target);
  for (const auto& k : metric_keys()) EXPECT_TRUE(m.contains(k)) << k;
  // gene 0 correlates perfectly, gene 1 is constant (PCC 0 by convention)
  EXPECT_DOUBLE_EQ(m["pcc_m"].get<double>(), 0.5);
  EXPECT_EQ(m["genes_pcc_ge_0_3"].get<int64_t>(), 1);
  EXPECT_NEAR(m["mse"].get<double>(), (1 + 4 + 9 + 16 + 0 + 1 + 4 + 9) / 8.0, 1e-12);
  const auto path = (fs::temp_directory_path() / "stx_test_metrics.json").string();
  write_json(path, {{"x", std::numeric_limits<double>::quiet_NaN()}, {"y", {1.0, INFINITY}}});
  std::ifstream in(path);
  EXPECT_EQ(json::parse(in), (json{{"x", nullptr}, {"y", {1.0, nullptr}}}));
  std::remove(path.c_str());
}

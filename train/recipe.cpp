#include <stx/train/recipe.h>

#include <c10/util/Exception.h>

#include <map>

namespace stx::train {
namespace {
std::map<std::string, Recipe>& registry() {
  static std::map<std::string, Recipe> recipes;
  return recipes;
}
}  // namespace

void register_recipe(Recipe recipe) {
  TORCH_CHECK(!recipe.name.empty() && recipe.build, "register_recipe: a recipe needs a name and a build function");
  TORCH_CHECK(!registry().count(recipe.name), "register_recipe: '", recipe.name, "' is already registered");
  auto name = recipe.name;
  registry().emplace(std::move(name), std::move(recipe));
}

const Recipe& find_recipe(const std::string& name) {
  auto it = registry().find(name);
  if (it == registry().end()) {
    std::string known;
    for (const auto& [n, r] : registry()) known += (known.empty() ? "" : ", ") + n;
    TORCH_CHECK(false, "config 'model': unknown model '", name, "'; registered: ", known);
  }
  return it->second;
}

std::vector<std::string> recipe_names() {
  std::vector<std::string> names;
  for (const auto& [name, recipe] : registry()) names.push_back(name);
  return names;
}

std::unique_ptr<TrainableModel> build_model(const Config& config, int64_t num_genes) {
  TORCH_CHECK(num_genes > 0, "build_model: the gene panel is empty");
  auto model = find_recipe(config.string("model")).build(config, num_genes);
  model->module().to(at::Device(config.string("device")));
  return model;
}

std::tuple<at::Tensor, at::Tensor> DenseTrainableModel::loss(const at::Tensor&, const at::Tensor&, const Bank&, bool) {
  TORCH_CHECK(false, "a dense model trains on image tiles, not spot patches: run the pixnet command "
                     "(stx-train pixnet / python -m stx pixnet)");
}

at::Tensor DenseTrainableModel::predict(const at::Tensor&) {
  TORCH_CHECK(false, "a dense model is read out inside regions by stitched inference, not per spot patch: run the "
                     "pixnet command (stx-train pixnet / python -m stx pixnet)");
}

RecipeRegistrar::RecipeRegistrar(Recipe (*make)()) { register_recipe(make()); }

}  // namespace stx::train

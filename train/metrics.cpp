#include <stx/train/metrics.h>

#include <ATen/ATen.h>

#include <cmath>

#include <stx/ops/metrics.h>
#include <stx/train/checkpoint.h>

namespace stx::train {
namespace {

using json = nlohmann::json;

std::vector<double> values_of(const at::Tensor& t) {
  auto c = t.to(at::kDouble).contiguous();
  return std::vector<double>(c.data_ptr<double>(), c.data_ptr<double>() + c.numel());
}

// Recursively: non-finite numbers -> null (JSON has no NaN).
json finite(const json& v) {
  if (v.is_number_float() && !std::isfinite(v.get<double>())) return nullptr;
  if (v.is_array() || v.is_object()) {
    json out = v;
    for (auto& item : out.items()) item.value() = finite(item.value());
    return out;
  }
  return v;
}

}  // namespace

const std::vector<std::string>& metric_keys() {
  static const std::vector<std::string> keys = {"mse",   "mae",   "pcc_f",           "pcc_s",  "pcc_m",
                                                "genes_pcc_ge_0_3", "n_genes", "n_spots"};
  return keys;
}

json regression_metrics(const at::Tensor& pred_in, const at::Tensor& target_in, const at::Tensor& coords,
                        const std::vector<std::string>& gene_names, int64_t morans_k) {
  TORCH_CHECK(pred_in.dim() == 2 && pred_in.sizes() == target_in.sizes(), "metrics: pred ", pred_in.sizes(),
              " and target ", target_in.sizes(), " must both be [spots, genes]");
  TORCH_CHECK(pred_in.size(0) > 0 && pred_in.size(1) > 0, "metrics: no spots or no genes");
  auto pred = pred_in.detach().to(at::kDouble).cpu(), target = target_in.detach().to(at::kDouble).cpu();
  // A gene without variance has no PCC; it counts as 0 so predicting a constant never looks good.
  auto pcc = at::nan_to_num(stx::ops::pearson_per_gene(pred, target), 0.0);
  auto diff = pred - target;
  json out = {{"mse", diff.pow(2).mean().item<double>()},
              {"mae", diff.abs().mean().item<double>()},
              {"n_genes", target.size(1)},
              {"n_spots", target.size(0)},
              {"pcc_f", at::quantile(pcc, 0.25).item<double>()},
              {"pcc_s", at::quantile(pcc, 0.5).item<double>()},
              {"pcc_m", pcc.mean().item<double>()},
              {"genes_pcc_ge_0_3", (pcc >= 0.3).sum().item<int64_t>()},
              {"pcc_per_gene", values_of(pcc)}};
  if (!gene_names.empty()) out["gene_names"] = gene_names;
  if (coords.defined() && target.size(0) > morans_k + 1) {
    auto c = coords.detach().to(at::kDouble).cpu();
    auto i_true = at::nan_to_num(std::get<0>(stx::ops::morans_i(target, c, "knn", morans_k, 0.0)), 0.0);
    auto i_pred = at::nan_to_num(std::get<0>(stx::ops::morans_i(pred, c, "knn", morans_k, 0.0)), 0.0);
    out["morans_i_true_mean"] = i_true.mean().item<double>();
    out["morans_i_pred_mean"] = i_pred.mean().item<double>();
    out["morans_i_true"] = values_of(i_true);
    out["morans_i_pred"] = values_of(i_pred);
  }
  return out;
}

json mean_predictor_metrics(const at::Tensor& mean_profile, const at::Tensor& target) {
  TORCH_CHECK(target.dim() == 2 && mean_profile.numel() == target.size(1), "mean_predictor_metrics: a mean of ",
              mean_profile.numel(), " genes for targets ", target.sizes());
  auto pred = mean_profile.to(at::kDouble).reshape({1, -1}).expand(target.sizes()).contiguous();
  const auto all = regression_metrics(pred, target);
  json out = json::object();
  for (const auto& k : metric_keys()) out[k] = all.at(k);
  return out;
}

void write_json(const std::string& path, const json& value) {
  write_file_atomic(path, finite(value).dump(2, ' ', false, json::error_handler_t::replace) + "\n");
}

}  // namespace stx::train

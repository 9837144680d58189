#pragma once
// The metrics of every run, one key set for both front ends, and the metrics.json writer.
#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::train {

// The headline keys every metrics.json has (besides split/sections/...).
STX_API const std::vector<std::string>& metric_keys();

// mse, mae, n_genes, n_spots, pcc_f / pcc_s / pcc_m (first quartile, median, mean of the per-gene
// Pearson r, a gene without variance counting as 0), genes_pcc_ge_0_3, pcc_per_gene; with coords
// (and more than morans_k + 1 spots) Moran's I of the measured and predicted maps; gene_names when given.
STX_API nlohmann::json regression_metrics(const at::Tensor& pred, const at::Tensor& target,
                                          const at::Tensor& coords = {},
                                          const std::vector<std::string>& gene_names = {}, int64_t morans_k = 6);
// The constant predictor (every spot predicted as `mean_profile` [G]): the headline keys only.
STX_API nlohmann::json mean_predictor_metrics(const at::Tensor& mean_profile, const at::Tensor& target);

// Writes JSON (sorted keys, 2-space indent; NaN and Inf become null) through a temporary file.
STX_API void write_json(const std::string& path, const nlohmann::json& value);

}  // namespace stx::train

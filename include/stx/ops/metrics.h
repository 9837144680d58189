#pragma once
// Spatial-transcriptomics evaluation metrics: per-gene Pearson correlation and Moran's I.
// Definitions: docs/ops/metrics.md.
#include <tuple>

#include <ATen/Tensor.h>
#include <c10/util/string_view.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.pearson_per_gene(Tensor pred, Tensor target, int dim=0) -> Tensor
// pred/target 2-D; Pearson r of each series along dim (dim=0: [spots, genes] -> r per gene).
// Constant series give NaN (as numpy.corrcoef / scipy.stats.pearsonr).
STX_API at::Tensor pearson_per_gene(const at::Tensor& pred, const at::Tensor& target, int64_t dim = 0);

// torch.ops.stx.morans_i(Tensor values, Tensor coords, str weights="knn", int k=6, float radius=0.0)
//     -> (Tensor I, Tensor z)
// values [N, G], coords [N, 2] (CPU). Row-standardised spatial weights: "knn" = the k nearest other
// spots (ties by lower index), "radius" = every other spot within radius (inclusive). Returns Moran's
// I per gene and its z-score under the normality assumption (PySAL esda: E[I] = -1/(N-1), VI_norm).
// Constant genes give NaN.
STX_API std::tuple<at::Tensor, at::Tensor> morans_i(const at::Tensor& values, const at::Tensor& coords,
                                                    c10::string_view weights = "knn", int64_t k = 6,
                                                    double radius = 0.0);

}  // namespace stx::ops

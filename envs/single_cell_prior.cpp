#include <stx/envs/single_cell_prior.h>

#include <algorithm>
#include <numeric>
#include <random>
#include <vector>

#include <ATen/ATen.h>

#include "envs/checks.h"
#include "envs/kmeans.h"
#include "envs/nearest.h"

namespace stx::envs {
namespace {

// Top-P principal axes [D, P] of centred data, by decreasing variance. The sign of each axis is
// fixed (largest-magnitude entry positive) so the projection is reproducible.
at::Tensor principal_axes(const at::Tensor& centred, int64_t p) {
  const int64_t m = centred.size(0);
  auto cov = at::mm(centred.t(), centred).div_(static_cast<double>(std::max<int64_t>(m - 1, 1)));
  auto [values, vectors] = at::linalg_eigh(cov);  // ascending eigenvalues
  auto axes = vectors.flip({1}).slice(1, 0, p);
  auto peak = axes.abs().argmax(0);
  auto sign = axes.gather(0, peak.unsqueeze(0)).sign();
  sign = at::where(sign.eq(0), at::ones_like(sign), sign);
  return (axes * sign).to(at::kFloat).contiguous();
}

at::Tensor subsample(const at::Tensor& x, int64_t max_points, uint64_t seed) {
  if (x.size(0) <= max_points) return x;
  std::vector<int64_t> idx(static_cast<size_t>(x.size(0)));
  std::iota(idx.begin(), idx.end(), 0);
  std::mt19937_64 rng(seed ^ 0x9e3779b97f4a7c15ULL);
  // Partial Fisher-Yates: the first max_points entries are a uniform sample.
  for (int64_t i = 0; i < max_points; ++i) {
    std::uniform_int_distribution<int64_t> pick(i, x.size(0) - 1);
    std::swap(idx[static_cast<size_t>(i)], idx[static_cast<size_t>(pick(rng))]);
  }
  idx.resize(static_cast<size_t>(max_points));
  return x.index_select(0, at::tensor(idx, at::kLong));
}

}  // namespace

std::shared_ptr<const SingleCellPrior> SingleCellPrior::build(const SingleCellReference& ref,
                                                              const PriorOptions& opt) {
  detail::check_matrix(ref.embeddings, "reference.embeddings");
  const int64_t m = ref.embeddings.size(0), d = ref.embeddings.size(1);
  TORCH_CHECK(m >= 1 && d >= 1, "reference.embeddings must be non-empty, got shape ", ref.embeddings.sizes());
  detail::check_finite(ref.embeddings, "reference.embeddings");
  detail::check_vector(ref.cell_types, "reference.cell_types", m);
  detail::check_integer(ref.cell_types, "reference.cell_types");
  auto types = ref.cell_types.to(at::kLong).contiguous();
  const int64_t tmin = types.min().item<int64_t>(), tmax = types.max().item<int64_t>();
  TORCH_CHECK(tmin >= 0, "reference.cell_types must be >= 0, got ", tmin);
  TORCH_CHECK(ref.num_types >= 0, "reference.num_types must be >= 0, got ", ref.num_types);
  TORCH_CHECK(ref.num_types <= kMaxCellTypes && tmax < kMaxCellTypes, "reference.num_types and cell_types must be < ",
              kMaxCellTypes, " (the documented limit on cell types; per-env tables hold one count per type), got ",
              "num_types=", ref.num_types, ", max(cell_types)=", tmax);
  const int64_t num_types = ref.num_types > 0 ? ref.num_types : tmax + 1;
  TORCH_CHECK(tmax < num_types, "reference.cell_types must be < num_types=", num_types, ", got ", tmax);
  TORCH_CHECK(opt.pca_components >= 1, "pca_components must be >= 1, got ", opt.pca_components);
  TORCH_CHECK(opt.num_clusters >= 1, "num_clusters must be >= 1, got ", opt.num_clusters);
  TORCH_CHECK(opt.kmeans_iterations >= 1, "kmeans_iterations must be >= 1, got ", opt.kmeans_iterations);
  TORCH_CHECK(opt.kmeans_max_points >= 1, "kmeans_max_points must be >= 1, got ", opt.kmeans_max_points);

  std::shared_ptr<SingleCellPrior> prior(new SingleCellPrior());
  auto z = ref.embeddings.to(at::kDouble).cpu();
  auto mean = z.mean(0);
  auto centred = z - mean;
  prior->mean_ = mean.to(at::kFloat).contiguous();
  prior->components_ = principal_axes(centred, std::min(opt.pca_components, d));
  auto projected = at::mm(centred.to(at::kFloat), prior->components_);

  if (ref.cluster_labels.defined()) {
    detail::check_vector(ref.cluster_labels, "reference.cluster_labels", m);
    detail::check_integer(ref.cluster_labels, "reference.cluster_labels");
    auto labels = ref.cluster_labels.to(at::kLong).cpu();
    TORCH_CHECK(labels.min().item<int64_t>() >= 0, "reference.cluster_labels must be >= 0");
    const int64_t c = labels.max().item<int64_t>() + 1;
    // Every cluster must hold a cell, so there are at most M of them (checked before bincount's table).
    TORCH_CHECK(c <= m, "reference.cluster_labels must use every label in [0, max], so max must be < M=", m,
                ", got ", c - 1);
    auto counts = at::bincount(labels, {}, c);
    TORCH_CHECK(counts.gt(0).all().item<bool>(),
                "reference.cluster_labels must use every label in [0, max]; some cluster is empty");
    auto sums = at::zeros({c, projected.size(1)}, projected.options()).index_add_(0, labels, projected);
    prior->centroids_ = (sums / counts.to(at::kFloat).unsqueeze(1)).contiguous();
  } else {
    auto sample = subsample(projected, opt.kmeans_max_points, opt.seed);
    const int64_t k = std::min(opt.num_clusters, sample.size(0));
    prior->centroids_ = detail::kmeans(sample, k, opt.kmeans_iterations, opt.seed);
  }
  auto cells = ref.embeddings.to(at::kFloat).cpu();
  prior->cells_ = (cells / cells.norm(2, {1}, true).clamp_min(1e-12)).contiguous();
  prior->cell_types_ = types.cpu();
  prior->num_types_ = num_types;
  return prior;
}

at::Tensor SingleCellPrior::project(const at::Tensor& embeddings) const {
  detail::check_matrix(embeddings, "embeddings");
  TORCH_CHECK(embeddings.size(1) == embedding_dim(), "embeddings must have ", embedding_dim(),
              " columns (the reference's dimension), got ", embeddings.size(1));
  return at::mm(embeddings.to(at::kFloat).cpu() - mean_, components_);
}

at::Tensor SingleCellPrior::nearest_cluster(const at::Tensor& embeddings) const {
  return detail::nearest_l2(project(embeddings), centroids_);
}

at::Tensor SingleCellPrior::nearest_cell(const at::Tensor& embeddings) const {
  detail::check_matrix(embeddings, "embeddings");
  TORCH_CHECK(embeddings.size(1) == embedding_dim(), "embeddings must have ", embedding_dim(),
              " columns (the reference's dimension), got ", embeddings.size(1));
  return detail::nearest_cosine(embeddings.cpu(), cells_);
}

}  // namespace stx::envs

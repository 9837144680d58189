#include <stx/modules/spot_labels.h>

#include <ATen/ATen.h>

#include <stx/envs/single_cell_prior.h>

namespace stx::modules {

// k-means of the expression PCA is exactly the single-cell prior's construction (PCA of the
// centred rows, k-means centroids in PCA space, nearest centroid), so the labels come from its
// public API with the spots as the "reference".
at::Tensor spot_labels(const at::Tensor& targets, int64_t num_labels, int64_t components, uint64_t seed) {
  TORCH_CHECK(targets.dim() == 2 && targets.size(0) > 0, "spot_labels: targets must be [N > 0, G], got ",
              targets.sizes());
  TORCH_CHECK(targets.is_floating_point(), "spot_labels: targets must be floating point, got ", targets.scalar_type());
  TORCH_CHECK(num_labels > 0 && components > 0, "spot_labels: num_labels and components must be positive");
  TORCH_CHECK(at::isfinite(targets).all().item<bool>(), "spot_labels: targets contain NaN or Inf");
  auto x = targets.cpu();
  stx::envs::SingleCellReference spots;
  spots.embeddings = x;
  spots.cell_types = at::zeros({x.size(0)}, at::kLong);
  stx::envs::PriorOptions options;
  options.pca_components = components;
  options.num_clusters = num_labels;
  options.kmeans_iterations = 30;
  options.kmeans_max_points = x.size(0);  // every spot
  options.seed = seed;
  return stx::envs::SingleCellPrior::build(spots, options)->nearest_cluster(x).to(at::kLong);
}

}  // namespace stx::modules

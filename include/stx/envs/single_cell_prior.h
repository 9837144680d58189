#pragma once
// The single-cell prior: PCA of the reference embeddings, k-means centroids in PCA space and
// the unit-normalised cells for nearest-cell (cosine) queries. Built once, immutable, shared.
#include <memory>

#include <ATen/Tensor.h>

#include <stx/envs/types.h>

namespace stx::envs {

class STX_API SingleCellPrior {
 public:
  static std::shared_ptr<const SingleCellPrior> build(const SingleCellReference& reference,
                                                      const PriorOptions& options = {});

  // [Q, D] embeddings -> [Q, P] PCA coordinates (float32).
  at::Tensor project(const at::Tensor& embeddings) const;
  // Index of the nearest centroid (Euclidean in PCA space) of each row of [Q, D] embeddings.
  at::Tensor nearest_cluster(const at::Tensor& embeddings) const;
  // Index of the most cosine-similar reference cell of each row of [Q, D] embeddings.
  at::Tensor nearest_cell(const at::Tensor& embeddings) const;

  int64_t embedding_dim() const { return mean_.size(0); }
  int64_t num_components() const { return components_.size(1); }
  int64_t num_clusters() const { return centroids_.size(0); }
  int64_t num_cells() const { return cells_.size(0); }
  int64_t num_types() const { return num_types_; }
  const at::Tensor& mean() const { return mean_; }              // [D]
  const at::Tensor& components() const { return components_; }  // [D, P]
  const at::Tensor& centroids() const { return centroids_; }    // [C, P]
  const at::Tensor& cell_types() const { return cell_types_; }  // [M] int64

 private:
  SingleCellPrior() = default;
  at::Tensor mean_, components_, centroids_, cells_, cell_types_;
  int64_t num_types_ = 0;
};

using SingleCellPriorPtr = std::shared_ptr<const SingleCellPrior>;

}  // namespace stx::envs

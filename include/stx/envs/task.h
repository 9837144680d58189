#pragma once
// SpotSamplingTask: a Section with everything the reward needs precomputed once (each spot's
// nearest single-cell centroid and nearest cell type never change). Immutable, shared by envs.
#include <memory>
#include <vector>

#include <ATen/Tensor.h>

#include <stx/envs/single_cell_prior.h>
#include <stx/envs/types.h>

namespace stx::envs {

class STX_API SpotSamplingTask {
 public:
  static std::shared_ptr<const SpotSamplingTask> create(const Section& section, SingleCellPriorPtr prior);

  int64_t num_spots() const { return static_cast<int64_t>(section_of_.size()); }
  int64_t feature_dim() const { return features_.size(1); }
  int64_t num_sections() const { return static_cast<int64_t>(section_spots_.size()); }
  int64_t num_clusters() const { return num_clusters_; }
  int64_t num_types() const { return num_types_; }

  const at::Tensor& features() const { return features_; }        // [N, F] float32, contiguous
  const at::Tensor& unit_coords() const { return unit_coords_; }  // [N, 2] float32 in [0, 1] per section
  const at::Tensor& spot_cluster() const { return spot_cluster_t_; }  // [N] int64
  const at::Tensor& spot_type() const { return spot_type_t_; }        // [N] int64
  float feature_min() const { return feature_min_; }
  float feature_max() const { return feature_max_; }

  // Raw arrays for the per-step reward (dense section index 0..S-1).
  const std::vector<double>& x() const { return x_; }
  const std::vector<double>& y() const { return y_; }
  const std::vector<int64_t>& section_of() const { return section_of_; }
  const std::vector<std::vector<int64_t>>& section_spots() const { return section_spots_; }
  const std::vector<double>& section_diameter() const { return section_diameter_; }
  const std::vector<int64_t>& cluster_of() const { return cluster_of_; }
  const std::vector<int64_t>& type_of() const { return type_of_; }

 private:
  SpotSamplingTask() = default;
  at::Tensor features_, unit_coords_, spot_cluster_t_, spot_type_t_;
  float feature_min_ = 0.f, feature_max_ = 0.f;
  int64_t num_clusters_ = 0, num_types_ = 0;
  std::vector<double> x_, y_, section_diameter_;
  std::vector<int64_t> section_of_, cluster_of_, type_of_;
  std::vector<std::vector<int64_t>> section_spots_;
};

using SpotSamplingTaskPtr = std::shared_ptr<const SpotSamplingTask>;

}  // namespace stx::envs

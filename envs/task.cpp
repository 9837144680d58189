#include <stx/envs/task.h>

#include <algorithm>
#include <cmath>
#include <map>

#include <ATen/ATen.h>

#include "envs/checks.h"

namespace stx::envs {

std::shared_ptr<const SpotSamplingTask> SpotSamplingTask::create(const Section& section, SingleCellPriorPtr prior) {
  TORCH_CHECK(prior != nullptr, "prior must not be null");
  detail::check_matrix(section.features, "section.features");
  const int64_t n = section.features.size(0);
  TORCH_CHECK(n >= 1, "section.features must have at least one spot (an empty section cannot be sampled)");
  TORCH_CHECK(section.features.size(1) >= 1, "section.features must have at least one column");
  detail::check_finite(section.features, "section.features");
  detail::check_matrix(section.coords, "section.coords");
  TORCH_CHECK(section.coords.size(0) == n && section.coords.size(1) == 2, "section.coords must have shape [", n,
              ", 2] (one row per spot of section.features), got ", section.coords.sizes());
  detail::check_finite(section.coords, "section.coords");
  detail::check_matrix(section.reward_embedding, "section.reward_embedding");
  TORCH_CHECK(section.reward_embedding.size(0) == n, "section.reward_embedding must have ", n,
              " rows (one per spot of section.features), got ", section.reward_embedding.size(0));
  TORCH_CHECK(section.reward_embedding.size(1) == prior->embedding_dim(),
              "section.reward_embedding must have the reference's dimension ", prior->embedding_dim(), ", got ",
              section.reward_embedding.size(1));
  detail::check_finite(section.reward_embedding, "section.reward_embedding");
  at::Tensor sid;
  if (section.section_id.defined()) {
    detail::check_vector(section.section_id, "section.section_id", n);
    detail::check_integer(section.section_id, "section.section_id");
    sid = section.section_id.to(at::kLong).cpu().contiguous();
    TORCH_CHECK(sid.min().item<int64_t>() >= 0, "section.section_id must be >= 0");
  } else {
    sid = at::zeros({n}, at::kLong);
  }

  std::shared_ptr<SpotSamplingTask> task(new SpotSamplingTask());
  task->features_ = section.features.to(at::kFloat).cpu().contiguous();
  task->feature_min_ = task->features_.min().item<float>();
  task->feature_max_ = task->features_.max().item<float>();
  auto coords = section.coords.to(at::kDouble).cpu().contiguous();
  const double* c = coords.data_ptr<double>();
  const int64_t* s = sid.data_ptr<int64_t>();
  std::map<int64_t, int64_t> dense;  // section ids in increasing order -> 0..S-1
  for (int64_t i = 0; i < n; ++i) dense.emplace(s[i], 0);
  int64_t next = 0;
  for (auto& kv : dense) kv.second = next++;
  task->section_spots_.resize(dense.size());
  task->x_.resize(n);
  task->y_.resize(n);
  task->section_of_.resize(n);
  for (int64_t i = 0; i < n; ++i) {
    task->x_[i] = c[2 * i];
    task->y_[i] = c[2 * i + 1];
    task->section_of_[i] = dense[s[i]];
    task->section_spots_[task->section_of_[i]].push_back(i);
  }
  task->unit_coords_ = at::zeros({n, 2}, at::kFloat);
  float* u = task->unit_coords_.data_ptr<float>();
  for (const auto& spots : task->section_spots_) {
    double x0 = INFINITY, x1 = -INFINITY, y0 = INFINITY, y1 = -INFINITY;
    for (int64_t i : spots) {
      x0 = std::min(x0, task->x_[i]), x1 = std::max(x1, task->x_[i]);
      y0 = std::min(y0, task->y_[i]), y1 = std::max(y1, task->y_[i]);
    }
    const double extent = std::max(x1 - x0, y1 - y0);
    const double diag = std::hypot(x1 - x0, y1 - y0);
    task->section_diameter_.push_back(diag > 0 ? diag : 1.0);
    for (int64_t i : spots) {
      u[2 * i] = extent > 0 ? static_cast<float>((task->x_[i] - x0) / extent) : 0.f;
      u[2 * i + 1] = extent > 0 ? static_cast<float>((task->y_[i] - y0) / extent) : 0.f;
    }
  }
  task->spot_cluster_t_ = prior->nearest_cluster(section.reward_embedding).contiguous();
  task->spot_type_t_ = prior->cell_types().index_select(0, prior->nearest_cell(section.reward_embedding)).contiguous();
  task->cluster_of_.assign(task->spot_cluster_t_.data_ptr<int64_t>(), task->spot_cluster_t_.data_ptr<int64_t>() + n);
  task->type_of_.assign(task->spot_type_t_.data_ptr<int64_t>(), task->spot_type_t_.data_ptr<int64_t>() + n);
  task->num_clusters_ = prior->num_clusters();
  task->num_types_ = prior->num_types();
  return task;
}

}  // namespace stx::envs

// CPU kernels of the cell-typing family: reference typing (centroid correlation, k-NN vote through
// cosine_topk), scanpy-style marker ranking (Welch t per gene and cluster, from per-cluster sums of
// mean-shifted values in one pass over the cells) and the rank-weighted marker vote.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <string>
#include <vector>

#include <ATen/ATen.h>
#include <torch/library.h>

#include <stx/ops/cell_typing.h>
#include <stx/ops/retrieval.h>

namespace stx::ops::cell_typing {
namespace {

constexpr int64_t kMaxTypes = int64_t{1} << 20;

at::Tensor checked_expr(const char* op, const char* name, const at::Tensor& t) {
  TORCH_CHECK(t.device().is_cpu(), op, ": ", name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK(t.dim() == 2, op, ": ", name, " must be 2-D [cells, genes], got ", t.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(t.scalar_type()), op, ": ", name, " must be floating point, got ", t.scalar_type());
  const at::Tensor d = t.to(at::kDouble).contiguous();
  TORCH_CHECK(at::isfinite(d).all().item<bool>(), op, ": ", name, " holds NaN or infinite values");
  return d;
}

at::Tensor checked_labels(const char* op, const char* name, const at::Tensor& t, int64_t n, int64_t num) {
  TORCH_CHECK(t.device().is_cpu(), op, ": ", name, " must be a CPU tensor, got one on ", t.device());
  TORCH_CHECK(t.dim() == 1 && t.size(0) == n, op, ": ", name, " must be 1-D with ", n, " entries, got shape ",
              t.sizes());
  TORCH_CHECK(at::isIntegralType(t.scalar_type(), /*includeBool=*/false), op, ": ", name,
              " must hold integers, got ", t.scalar_type());
  const at::Tensor l = t.to(at::kLong).contiguous();
  if (n > 0) {
    const int64_t lo = l.min().item<int64_t>(), hi = l.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < num, op, ": ", name, " holds ", lo < 0 ? lo : hi, ", outside [0, ", num, ")");
  }
  return l;
}

// The best index of a score row (ties: the lower index; NaN never wins), or -1 when every score is NaN.
int64_t best_of(const double* s, int64_t n) {
  int64_t best = -1;
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isnan(s[i]) && (best < 0 || s[i] > s[best])) best = i;
  }
  return best;
}

std::tuple<at::Tensor, at::Tensor> by_centroid(const at::Tensor& x, const at::Tensor& ref, const at::Tensor& labels,
                                               int64_t num_types) {
  at::Tensor sums = at::zeros({num_types, x.size(1)}, at::kDouble).index_add_(0, labels, ref);
  const at::Tensor counts = at::bincount(labels, {}, num_types).to(at::kDouble);
  const at::Tensor centroids = sums / counts.clamp_min(1).unsqueeze(1);
  const at::Tensor xc = x - x.mean(1, true), cc = centroids - centroids.mean(1, true);
  at::Tensor r = at::mm(xc, cc.t()) / (xc.norm(2, 1).unsqueeze(1) * cc.norm(2, 1).unsqueeze(0));
  // A constant profile or a type without reference cells has no correlation.
  r = at::where((counts > 0).unsqueeze(0) & at::isfinite(r), r, std::nan("")).contiguous();
  const int64_t N = x.size(0);
  at::Tensor out = at::empty({N}, at::kLong), conf = at::empty({N}, at::kDouble);
  const double* rp = r.const_data_ptr<double>();
  int64_t* op = out.mutable_data_ptr<int64_t>();
  double* cp = conf.mutable_data_ptr<double>();
  for (int64_t i = 0; i < N; ++i) {
    op[i] = best_of(rp + i * num_types, num_types);
    cp[i] = op[i] < 0 ? 0.0 : rp[i * num_types + op[i]];
  }
  return {out, conf};
}

std::tuple<at::Tensor, at::Tensor> by_knn(const at::Tensor& x, const at::Tensor& ref, const at::Tensor& labels,
                                          int64_t num_types, int64_t k) {
  const int64_t N = x.size(0), kk = std::min(k, ref.size(0));
  const at::Tensor index = std::get<1>(stx::ops::cosine_topk(x, ref, kk, "cosine", std::nullopt, false)).contiguous();
  const at::Tensor zero = (x.abs().sum(1) == 0).contiguous();
  const int64_t* ip = index.const_data_ptr<int64_t>();
  const int64_t* lp = labels.const_data_ptr<int64_t>();
  const bool* zp = zero.const_data_ptr<bool>();
  at::Tensor out = at::empty({N}, at::kLong), conf = at::empty({N}, at::kDouble);
  int64_t* op = out.mutable_data_ptr<int64_t>();
  double* cp = conf.mutable_data_ptr<double>();
  std::vector<int64_t> votes(static_cast<size_t>(num_types));
  for (int64_t i = 0; i < N; ++i) {
    op[i] = -1;
    cp[i] = 0.0;
    if (zp[i]) continue;  // no expression: no direction to compare
    std::fill(votes.begin(), votes.end(), 0);
    int64_t valid = 0;
    for (int64_t j = 0; j < kk; ++j) {
      if (ip[i * kk + j] >= 0) {
        ++votes[lp[ip[i * kk + j]]];
        ++valid;
      }
    }
    if (valid == 0) continue;
    const auto best = std::max_element(votes.begin(), votes.end()) - votes.begin();  // first maximum
    op[i] = best;
    cp[i] = static_cast<double>(votes[best]) / static_cast<double>(valid);
  }
  return {out, conf};
}

std::tuple<at::Tensor, at::Tensor> cell_type_reference_cpu(const at::Tensor& expr, const at::Tensor& ref_expr,
                                                           const at::Tensor& ref_labels, int64_t num_types,
                                                           c10::string_view method, int64_t k,
                                                           double min_confidence) {
  constexpr const char* op = "cell_type_reference";
  const at::Tensor x = checked_expr(op, "expr", expr);
  const at::Tensor ref = checked_expr(op, "ref_expr", ref_expr);
  TORCH_CHECK(ref.size(1) == x.size(1), op, ": ref_expr has ", ref.size(1), " genes but expr has ", x.size(1),
              " (use the same gene panel, in the same order)");
  TORCH_CHECK(ref.size(0) > 0, op, ": ref_expr holds no reference cell");
  TORCH_CHECK(num_types >= 1 && num_types <= kMaxTypes, op, ": num_types must be in [1, 2^20], got ", num_types);
  const at::Tensor labels = checked_labels(op, "ref_labels", ref_labels, ref.size(0), num_types);
  TORCH_CHECK(std::isfinite(min_confidence), op, ": min_confidence must be finite, got ", min_confidence);
  std::tuple<at::Tensor, at::Tensor> result;
  if (method == "centroid") {
    result = by_centroid(x, ref, labels, num_types);
  } else if (method == "knn") {
    TORCH_CHECK(k >= 1, op, ": k must be >= 1, got ", k);
    result = by_knn(x, ref, labels, num_types, k);
  } else {
    TORCH_CHECK(false, op, ": method must be \"centroid\" or \"knn\", got \"", std::string(method), "\"");
  }
  auto& [out, conf] = result;
  out.masked_fill_(conf < min_confidence, -1);
  return result;
}

// Welch t-statistics [C, G] of each gene, each cluster against the other cells; 0 where undefined.
std::vector<double> welch_t(const at::Tensor& x, const int64_t* clusters, int64_t C) {
  const int64_t N = x.size(0), G = x.size(1);
  // Shifting by the gene means keeps the sums of squares from cancelling.
  const at::Tensor shifted = (x - x.mean(0, true)).contiguous();
  const double* xp = shifted.const_data_ptr<double>();
  std::vector<double> s(static_cast<size_t>(C * G), 0.0), ss(s.size(), 0.0), tot(G, 0.0), tot_sq(G, 0.0);
  std::vector<int64_t> n(static_cast<size_t>(C), 0);
  for (int64_t i = 0; i < N; ++i) {
    const int64_t c = clusters[i];
    ++n[c];
    for (int64_t g = 0; g < G; ++g) {
      const double v = xp[i * G + g];
      s[c * G + g] += v;
      ss[c * G + g] += v * v;
      tot[g] += v;
      tot_sq[g] += v * v;
    }
  }
  std::vector<double> t(s.size(), 0.0);
  for (int64_t c = 0; c < C; ++c) {
    const double n1 = static_cast<double>(n[c]), n2 = static_cast<double>(N - n[c]);
    if (n1 < 2 || n2 < 2) continue;
    for (int64_t g = 0; g < G; ++g) {
      const double s1 = s[c * G + g], s2 = tot[g] - s1;
      const double var1 = (ss[c * G + g] - s1 * s1 / n1) / (n1 - 1);
      const double var2 = (tot_sq[g] - ss[c * G + g] - s2 * s2 / n2) / (n2 - 1);
      const double se = std::sqrt(std::max(var1, 0.0) / n1 + std::max(var2, 0.0) / n2);
      const double value = (s1 / n1 - s2 / n2) / se;
      t[c * G + g] = std::isfinite(value) ? value : 0.0;
    }
  }
  return t;
}

std::tuple<at::Tensor, at::Tensor> rank_marker_genes_impl(const char* op, const at::Tensor& x,
                                                          const at::Tensor& clusters, int64_t num_clusters,
                                                          int64_t top_n) {
  const int64_t G = x.size(1);
  TORCH_CHECK(num_clusters >= 1 && num_clusters <= kMaxTypes, op, ": num_clusters must be in [1, 2^20], got ",
              num_clusters);
  TORCH_CHECK(top_n >= 1 && top_n <= G, op, ": top_n must be in [1, genes = ", G, "], got ", top_n);
  const at::Tensor cl = checked_labels(op, "clusters", clusters, x.size(0), num_clusters);
  const auto t = welch_t(x, cl.const_data_ptr<int64_t>(), num_clusters);
  at::Tensor genes = at::empty({num_clusters, top_n}, at::kLong), scores = at::empty({num_clusters, top_n}, at::kDouble);
  int64_t* gp = genes.mutable_data_ptr<int64_t>();
  double* sp = scores.mutable_data_ptr<double>();
  std::vector<int64_t> order(static_cast<size_t>(G));
  for (int64_t c = 0; c < num_clusters; ++c) {
    const double* row = t.data() + c * G;
    std::iota(order.begin(), order.end(), 0);
    std::partial_sort(order.begin(), order.begin() + top_n, order.end(),
                      [row](int64_t a, int64_t b) { return row[a] != row[b] ? row[a] > row[b] : a < b; });
    for (int64_t r = 0; r < top_n; ++r) {
      gp[c * top_n + r] = order[r];
      sp[c * top_n + r] = row[order[r]];
    }
  }
  return {genes, scores};
}

std::tuple<at::Tensor, at::Tensor> rank_marker_genes_cpu(const at::Tensor& expr, const at::Tensor& clusters,
                                                         int64_t num_clusters, int64_t top_n) {
  return rank_marker_genes_impl("rank_marker_genes", checked_expr("rank_marker_genes", "expr", expr), clusters,
                                num_clusters, top_n);
}

std::tuple<at::Tensor, at::Tensor> cell_type_markers_cpu(const at::Tensor& expr, const at::Tensor& clusters,
                                                         const at::Tensor& markers, int64_t top_n, double min_score) {
  constexpr const char* op = "cell_type_markers";
  const at::Tensor x = checked_expr(op, "expr", expr);
  const at::Tensor m = checked_expr(op, "markers", markers);
  TORCH_CHECK(m.size(1) == x.size(1), op, ": markers has ", m.size(1), " genes but expr has ", x.size(1));
  TORCH_CHECK(m.size(0) >= 1, op, ": markers names no cell type");
  TORCH_CHECK(m.numel() == 0 || m.min().item<double>() >= 0, op, ": markers must be non-negative weights");
  TORCH_CHECK(std::isfinite(min_score), op, ": min_score must be finite, got ", min_score);
  TORCH_CHECK(clusters.dim() == 1 && clusters.size(0) == x.size(0), op, ": clusters must be 1-D with ", x.size(0),
              " entries, got shape ", clusters.sizes());
  TORCH_CHECK(at::isIntegralType(clusters.scalar_type(), false), op, ": clusters must hold integers, got ",
              clusters.scalar_type());
  const int64_t N = x.size(0), T = m.size(0), G = x.size(1);
  const int64_t C = N == 0 ? 1 : std::max<int64_t>(clusters.max().item<int64_t>() + 1, 1);
  const auto [genes, scores] = rank_marker_genes_impl(op, x, clusters, C, top_n);
  const int64_t* gp = genes.const_data_ptr<int64_t>();
  const double* mp = m.const_data_ptr<double>();
  std::vector<int64_t> cluster_type(static_cast<size_t>(C), -1);
  std::vector<double> cluster_score(static_cast<size_t>(C), 0.0), type_score(static_cast<size_t>(T));
  const double weight_sum = static_cast<double>(top_n + 1) / 2.0;  // sum of (top_n - r) / top_n
  for (int64_t c = 0; c < C; ++c) {
    std::fill(type_score.begin(), type_score.end(), 0.0);
    for (int64_t r = 0; r < top_n; ++r) {
      const double w = static_cast<double>(top_n - r) / static_cast<double>(top_n);
      for (int64_t ty = 0; ty < T; ++ty) type_score[ty] += w * mp[ty * G + gp[c * top_n + r]];
    }
    const int64_t best = best_of(type_score.data(), T);
    cluster_score[c] = type_score[best] / weight_sum;
    cluster_type[c] = cluster_score[c] >= min_score ? best : -1;
  }
  const at::Tensor cl = clusters.to(at::kLong).contiguous();
  const int64_t* cp = cl.const_data_ptr<int64_t>();
  at::Tensor out = at::empty({N}, at::kLong), conf = at::empty({N}, at::kDouble);
  int64_t* op_ = out.mutable_data_ptr<int64_t>();
  double* conf_ = conf.mutable_data_ptr<double>();
  for (int64_t i = 0; i < N; ++i) {
    op_[i] = cluster_type[cp[i]];
    conf_[i] = cluster_score[cp[i]];
  }
  return {out, conf};
}

}  // namespace
}  // namespace stx::ops::cell_typing

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("cell_type_reference", &stx::ops::cell_typing::cell_type_reference_cpu);
  m.impl("rank_marker_genes", &stx::ops::cell_typing::rank_marker_genes_cpu);
  m.impl("cell_type_markers", &stx::ops::cell_typing::cell_type_markers_cpu);
}

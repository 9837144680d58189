// CPU kernels of the metric family: per-gene Pearson r (shared statistics with pearson_loss) and
// Moran's I with its normality z-score over a row-standardised k-NN or radius graph.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <stx/ops/retrieval.h>

#include "ops/cpu/losses_pearson.h"
#include "ops/losses_common.h"

namespace stx::ops::metrics {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

at::Tensor pearson_per_gene_cpu(const at::Tensor& pred, const at::Tensor& target, int64_t dim) {
  const int64_t d = losses::check_pearson("pearson_per_gene", pred, target, dim);
  const at::Tensor x = (d == 0 ? pred : pred.t()).contiguous();
  const at::Tensor y = (d == 0 ? target : target.t()).contiguous();
  const int64_t N = x.size(0), G = x.size(1);
  at::Tensor r = at::empty({G}, at::TensorOptions().dtype(at::kDouble));
  double* rp = r.mutable_data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "pearson_per_gene", [&] {
    const auto st = losses::pearson_stats(x.const_data_ptr<scalar_t>(), y.const_data_ptr<scalar_t>(), N, G);
    for (int64_t g = 0; g < G; ++g) {
      rp[g] = (st.sxx[g] > 0 && st.syy[g] > 0) ? st.sxy[g] / (std::sqrt(st.sxx[g]) * std::sqrt(st.syy[g])) : kNaN;
    }
  });
  return r.to(pred.scalar_type());
}

// Row-standardised sparse weights in CSR form; each row's columns sorted ascending.
struct Graph {
  std::vector<int64_t> row_ptr, col;
  std::vector<double> w;
};

Graph knn_graph(const at::Tensor& coords, int64_t k) {
  const int64_t N = coords.size(0);
  const at::Tensor c = coords.to(at::kDouble);
  const at::Tensor index = std::get<1>(stx::ops::cosine_topk(c, c, k, "l2", std::nullopt, /*exclude_self=*/true));
  const int64_t* ip = index.const_data_ptr<int64_t>();
  Graph g;
  g.row_ptr.assign(N + 1, 0);
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t j = 0; j < k; ++j) {
      if (ip[i * k + j] >= 0) g.col.push_back(ip[i * k + j]);
    }
    std::sort(g.col.begin() + g.row_ptr[i], g.col.end());
    g.row_ptr[i + 1] = static_cast<int64_t>(g.col.size());
  }
  return g;
}

// Uniform grid with cell size = radius: each spot only looks at the 3x3 cells around it.
Graph radius_graph(const at::Tensor& coords, double radius) {
  const int64_t N = coords.size(0);
  const at::Tensor c = coords.to(at::kDouble).contiguous();
  const double* xy = c.const_data_ptr<double>();
  std::vector<std::pair<int64_t, int64_t>> cell(N);
  for (int64_t i = 0; i < N; ++i) {
    cell[i] = {static_cast<int64_t>(std::floor(xy[2 * i] / radius)),
               static_cast<int64_t>(std::floor(xy[2 * i + 1] / radius))};
  }
  std::vector<int64_t> order(N);
  for (int64_t i = 0; i < N; ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return cell[a] < cell[b]; });
  std::vector<std::pair<int64_t, int64_t>> sorted_cells(N);
  for (int64_t i = 0; i < N; ++i) sorted_cells[i] = cell[order[i]];
  const double r2 = radius * radius;
  std::vector<std::vector<int64_t>> nbrs(N);
  at::parallel_for(0, N, 256, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      for (int64_t dx = -1; dx <= 1; ++dx) {
        for (int64_t dy = -1; dy <= 1; ++dy) {
          const std::pair<int64_t, int64_t> key{cell[i].first + dx, cell[i].second + dy};
          auto range = std::equal_range(sorted_cells.begin(), sorted_cells.end(), key);
          for (auto it = range.first; it != range.second; ++it) {
            const int64_t j = order[it - sorted_cells.begin()];
            const double ddx = xy[2 * i] - xy[2 * j], ddy = xy[2 * i + 1] - xy[2 * j + 1];
            if (j != i && ddx * ddx + ddy * ddy <= r2) nbrs[i].push_back(j);
          }
        }
      }
      std::sort(nbrs[i].begin(), nbrs[i].end());
    }
  });
  Graph g;
  g.row_ptr.assign(N + 1, 0);
  for (int64_t i = 0; i < N; ++i) {
    g.col.insert(g.col.end(), nbrs[i].begin(), nbrs[i].end());
    g.row_ptr[i + 1] = static_cast<int64_t>(g.col.size());
  }
  return g;
}

void row_standardise(Graph& g) {
  const int64_t N = static_cast<int64_t>(g.row_ptr.size()) - 1;
  g.w.resize(g.col.size());
  for (int64_t i = 0; i < N; ++i) {
    const int64_t deg = g.row_ptr[i + 1] - g.row_ptr[i];
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) g.w[e] = 1.0 / static_cast<double>(deg);
  }
}

// S0 = sum w, S1 = 1/2 sum (w_ij + w_ji)^2, S2 = sum_i (row_i + col_i)^2 (Cliff & Ord).
struct WeightSums {
  double s0 = 0, s1 = 0, s2 = 0;
};

WeightSums weight_sums(const Graph& g) {
  const int64_t N = static_cast<int64_t>(g.row_ptr.size()) - 1;
  WeightSums s;
  std::vector<double> row(N, 0.0), col(N, 0.0);
  for (int64_t i = 0; i < N; ++i) {
    for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
      const int64_t j = g.col[e];
      const double wij = g.w[e];
      s.s0 += wij;
      row[i] += wij;
      col[j] += wij;
      // (w_ij + w_ji)^2 summed over ordered pairs = 2 sum w_ij^2 + 2 sum w_ij w_ji.
      const auto first = g.col.begin() + g.row_ptr[j], last = g.col.begin() + g.row_ptr[j + 1];
      const auto it = std::lower_bound(first, last, i);
      const double wji = (it != last && *it == i) ? g.w[it - g.col.begin()] : 0.0;
      s.s1 += wij * wij + wij * wji;
    }
  }
  for (int64_t i = 0; i < N; ++i) s.s2 += (row[i] + col[i]) * (row[i] + col[i]);
  return s;
}

std::tuple<at::Tensor, at::Tensor> morans_i_cpu(const at::Tensor& values, const at::Tensor& coords,
                                                c10::string_view weights, int64_t k, double radius) {
  TORCH_CHECK(values.dim() == 2, "morans_i: values must be 2-D [N, G], got ", values.dim(), "-D");
  TORCH_CHECK(at::isFloatingType(values.scalar_type()), "morans_i: values must be floating point, got ",
              values.scalar_type());
  TORCH_CHECK(coords.dim() == 2 && coords.size(1) == 2 && coords.size(0) == values.size(0),
              "morans_i: coords must have shape [N, 2]=[", values.size(0), ", 2], got ", coords.sizes());
  TORCH_CHECK(at::isFloatingType(coords.scalar_type()), "morans_i: coords must be floating point, got ",
              coords.scalar_type());
  TORCH_CHECK(coords.device() == values.device(), "morans_i: coords is on ", coords.device(), " but values is on ",
              values.device());
  TORCH_CHECK(values.size(0) >= 2, "morans_i: needs at least 2 spots, got ", values.size(0));
  TORCH_CHECK(at::isfinite(coords).all().item<bool>(), "morans_i: coords contains NaN or Inf");
  Graph g;
  if (weights == "knn") {
    TORCH_CHECK(k >= 1 && k <= values.size(0) - 1, "morans_i: k must be in [1, N-1]=[1, ", values.size(0) - 1,
                "] for knn weights (each spot has N-1 neighbours), got ", k);
    g = knn_graph(coords, k);
  } else if (weights == "radius") {
    TORCH_CHECK(radius > 0 && std::isfinite(radius), "morans_i: radius must be positive and finite, got ", radius);
    // The grid's integer cell keys floor(coord / radius) must be representable.
    const double extent = coords.abs().max().item<double>();
    TORCH_CHECK(extent / radius < 0x1p52, "morans_i: radius ", radius, " is too small for coords of magnitude ",
                extent, " (need max|coords| / radius < 2^52)");
    g = radius_graph(coords, radius);
  } else {
    TORCH_CHECK(false, "morans_i: weights must be \"knn\" or \"radius\", got \"", std::string(weights), "\"");
  }
  row_standardise(g);
  const WeightSums ws = weight_sums(g);
  const int64_t N = values.size(0), G = values.size(1);
  const double n = static_cast<double>(N);
  const double expected = -1.0 / (n - 1.0);
  const double var_norm =
      (n * n * ws.s1 - n * ws.s2 + 3.0 * ws.s0 * ws.s0) / ((n * n - 1.0) * ws.s0 * ws.s0) - expected * expected;

  const at::Tensor v = values.contiguous();
  at::Tensor I = at::empty({G}, at::TensorOptions().dtype(at::kDouble));
  double* Ip = I.mutable_data_ptr<double>();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, v.scalar_type(), "morans_i", [&] {
    const scalar_t* vp = v.const_data_ptr<scalar_t>();
    at::parallel_for(0, G, 16, [&](int64_t g0, int64_t g1) {
      const int64_t w = g1 - g0;
      std::vector<double> mean(w, 0.0), m2(w, 0.0), num(w, 0.0), lag(w);
      std::vector<char> constant(w, 1);
      const scalar_t* v0 = vp + g0;
      for (int64_t i = 0; i < N; ++i) {
        for (int64_t c = 0; c < w; ++c) {
          mean[c] += static_cast<double>(vp[i * G + g0 + c]);
          constant[c] &= static_cast<double>(vp[i * G + g0 + c]) == static_cast<double>(v0[c]);
        }
      }
      // A constant column is centred on its value (exactly 0 variance, I = NaN), not on sum/n.
      for (int64_t c = 0; c < w; ++c) mean[c] = constant[c] ? static_cast<double>(v0[c]) : mean[c] / n;
      for (int64_t i = 0; i < N; ++i) {
        std::fill(lag.begin(), lag.end(), 0.0);
        for (int64_t e = g.row_ptr[i]; e < g.row_ptr[i + 1]; ++e) {
          const scalar_t* vj = vp + g.col[e] * G + g0;
          for (int64_t c = 0; c < w; ++c) lag[c] += g.w[e] * (static_cast<double>(vj[c]) - mean[c]);
        }
        for (int64_t c = 0; c < w; ++c) {
          const double zi = static_cast<double>(vp[i * G + g0 + c]) - mean[c];
          m2[c] += zi * zi;
          num[c] += zi * lag[c];
        }
      }
      for (int64_t c = 0; c < w; ++c) {
        Ip[g0 + c] = (m2[c] > 0 && ws.s0 > 0) ? (n / ws.s0) * num[c] / m2[c] : kNaN;
      }
    });
  });
  at::Tensor z = (I - expected) / std::sqrt(var_norm);
  return {I.to(values.scalar_type()), z.to(values.scalar_type())};
}

}  // namespace
}  // namespace stx::ops::metrics

TORCH_LIBRARY_IMPL(stx, CPU, m) {
  m.impl("pearson_per_gene", &stx::ops::metrics::pearson_per_gene_cpu);
  m.impl("morans_i", &stx::ops::metrics::morans_i_cpu);
}

// Expression preprocessing: normalize_total/log1p, highly variable / expressed genes, gene
// identifier matching and alignment.
#include <stx/data/preprocess.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <limits>
#include <unordered_map>

namespace stx::data {
namespace {

void check_matrix(const at::Tensor& m, const char* fn, const char* arg) {
  TORCH_CHECK(m.defined() && m.dim() == 2, fn, ": ", arg, " must be a 2-D [cells, genes] matrix, got ",
              m.defined() ? m.dim() : 0, " dimensions");
  TORCH_CHECK(m.device().is_cpu(), fn, ": ", arg, " must be on the CPU");
  TORCH_CHECK(m.layout() == at::kStrided || m.layout() == at::kSparseCsr, fn, ": ", arg,
              " must be dense or sparse CSR, got layout ", m.layout());
  TORCH_CHECK(m.scalar_type() != at::kBool && !at::isComplexType(m.scalar_type()), fn, ": ", arg,
              " must be integer or floating point, got ", m.scalar_type());
}

at::ScalarType float_type(const at::Tensor& m) { return m.scalar_type() == at::kDouble ? at::kDouble : at::kFloat; }

// Row index of every stored value of a CSR matrix.
at::Tensor csr_rows(const at::Tensor& m) {
  const at::Tensor ptr = m.crow_indices();
  return at::repeat_interleave(at::arange(m.size(0), ptr.options()), ptr.diff(), /*dim=*/std::nullopt, m.values().numel());
}

at::Tensor row_sums(const at::Tensor& m, at::ScalarType t) {
  if (m.layout() == at::kStrided) return m.to(t).sum(1);
  return at::zeros({m.size(0)}, m.values().options().dtype(t)).index_add_(0, csr_rows(m), m.values().to(t));
}

at::Tensor column_sums(const at::Tensor& m, at::ScalarType t) {
  if (m.layout() == at::kStrided) return m.to(t).sum(0);
  return at::zeros({m.size(1)}, m.values().options().dtype(t)).index_add_(0, m.col_indices(), m.values().to(t));
}

// Applies f to the stored values (zeros stay zeros, which every f here preserves).
template <typename F>
at::Tensor map_values(const at::Tensor& m, F f) {
  if (m.layout() == at::kStrided) return f(m);
  return at::sparse_csr_tensor(m.crow_indices(), m.col_indices(), f(m.values()), m.sizes(),
                               m.values().options().layout(at::kSparseCsr));
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string strip_version(const std::string& id) {
  const size_t dot = id.rfind('.');
  if (id.rfind("ENS", 0) == 0 && dot != std::string::npos) return id.substr(0, dot);
  return id;
}

}  // namespace

at::Tensor normalize_total(const at::Tensor& counts, double target_sum, bool log1p) {
  check_matrix(counts, "normalize_total", "counts");
  const at::ScalarType t = float_type(counts);
  const at::Tensor values = counts.layout() == at::kStrided ? counts : counts.values();
  if (values.numel() > 0) {
    const at::Tensor v = values.to(t);
    TORCH_CHECK(!v.isnan().any().item<bool>(), "normalize_total: counts contain NaN");
    TORCH_CHECK(v.min().item<double>() >= 0, "normalize_total: counts must be non-negative");
  }
  const at::Tensor totals = row_sums(counts, t);
  if (target_sum <= 0) {  // the median of the non-zero totals (numpy median: mean of the middle two)
    const at::Tensor nz = std::get<0>(totals.masked_select(totals > 0).sort());
    const int64_t n = nz.numel();
    target_sum = n == 0 ? 1.0 : (nz[(n - 1) / 2].item<double>() + nz[n / 2].item<double>()) / 2.0;
  }
  const at::Tensor scale = at::where(totals > 0, target_sum / totals, at::zeros_like(totals));
  at::Tensor out;
  if (counts.layout() == at::kStrided) {
    out = counts.to(t) * scale.unsqueeze(1);
  } else {
    const at::Tensor v = counts.values().to(t) * scale.index_select(0, csr_rows(counts));
    out = at::sparse_csr_tensor(counts.crow_indices(), counts.col_indices(), v, counts.sizes(),
                                v.options().layout(at::kSparseCsr));
  }
  return log1p ? map_values(out, [](const at::Tensor& x) { return x.log1p(); }) : out;
}

HighlyVariable highly_variable_genes(const at::Tensor& log_normalized, int64_t n_top_genes, int64_t n_bins) {
  check_matrix(log_normalized, "highly_variable_genes", "log_normalized");
  const int64_t n = log_normalized.size(0), g = log_normalized.size(1);
  TORCH_CHECK(n >= 2, "highly_variable_genes: need at least 2 rows (cells/spots) for a variance, got ", n);
  TORCH_CHECK(n_top_genes >= 1 && n_top_genes <= g, "highly_variable_genes: n_top_genes must lie in [1, ", g,
              "], got ", n_top_genes);
  TORCH_CHECK(n_bins >= 1, "highly_variable_genes: n_bins must be >= 1, got ", n_bins);
  const at::Tensor x = map_values(log_normalized.to(at::kDouble), [](const at::Tensor& v) { return v.expm1(); });
  const at::Tensor sq = map_values(x, [](const at::Tensor& v) { return v * v; });
  at::Tensor mean = column_sums(x, at::kDouble) / static_cast<double>(n);
  const at::Tensor var = (column_sums(sq, at::kDouble) / static_cast<double>(n) - mean * mean) *
                         (static_cast<double>(n) / static_cast<double>(n - 1));
  mean = at::where(mean == 0, at::full_like(mean, 1e-12), mean);
  at::Tensor disp = var / mean;
  disp = at::where(disp == 0, at::full_like(disp, std::nan("")), disp).log();
  mean = mean.log1p();

  // Equal-width bins over the means, right-closed, the first edge lowered by 0.1% of the range.
  const double* m = mean.data_ptr<double>();
  const double* d = disp.data_ptr<double>();
  const double lo = *std::min_element(m, m + g), hi = *std::max_element(m, m + g);
  std::vector<double> edges(static_cast<size_t>(n_bins) + 1);
  for (int64_t b = 0; b <= n_bins; ++b) edges[b] = lo + (hi - lo) * static_cast<double>(b) / static_cast<double>(n_bins);
  if (hi > lo) edges[0] -= (hi - lo) * 0.001;
  std::vector<int64_t> bin(static_cast<size_t>(g));
  for (int64_t j = 0; j < g; ++j) {
    const auto it = std::lower_bound(edges.begin(), edges.end(), m[j]);
    bin[j] = std::clamp<int64_t>(static_cast<int64_t>(it - edges.begin()) - 1, 0, n_bins - 1);
  }
  std::vector<double> sum(n_bins, 0.0), sum_sq(n_bins, 0.0), cnt(n_bins, 0.0);
  for (int64_t j = 0; j < g; ++j) {
    if (std::isnan(d[j])) continue;
    sum[bin[j]] += d[j];
    cnt[bin[j]] += 1;
  }
  std::vector<double> bmean(n_bins), bstd(n_bins);
  for (int64_t b = 0; b < n_bins; ++b) bmean[b] = cnt[b] > 0 ? sum[b] / cnt[b] : std::nan("");
  for (int64_t j = 0; j < g; ++j) {
    if (!std::isnan(d[j])) sum_sq[bin[j]] += (d[j] - bmean[bin[j]]) * (d[j] - bmean[bin[j]]);
  }
  for (int64_t b = 0; b < n_bins; ++b) {
    bstd[b] = cnt[b] > 1 ? std::sqrt(sum_sq[b] / (cnt[b] - 1)) : std::nan("");
    if (std::isnan(bstd[b])) {  // a bin with a single gene: that gene's normalised dispersion is 1
      bstd[b] = bmean[b];
      bmean[b] = 0.0;
    }
  }
  at::Tensor norm = at::empty({g}, at::kDouble);
  double* z = norm.data_ptr<double>();
  for (int64_t j = 0; j < g; ++j) z[j] = (d[j] - bmean[bin[j]]) / bstd[bin[j]];

  std::vector<double> valid;
  for (int64_t j = 0; j < g; ++j) {
    if (!std::isnan(z[j])) valid.push_back(z[j]);
  }
  TORCH_CHECK(!valid.empty(), "highly_variable_genes: no gene has a defined normalised dispersion (all constant?)");
  std::sort(valid.begin(), valid.end(), std::greater<double>());
  const double cutoff = valid[std::min<size_t>(static_cast<size_t>(n_top_genes), valid.size()) - 1];
  // As scanpy: NaN counts as 0 when compared with the cut-off.
  const at::Tensor hv = at::nan_to_num(norm, 0.0) >= cutoff;
  return HighlyVariable{mean, disp, norm, hv};
}

at::Tensor highly_expressed_genes(const at::Tensor& counts, int64_t n_top) {
  check_matrix(counts, "highly_expressed_genes", "counts");
  TORCH_CHECK(n_top >= 1 && n_top <= counts.size(1), "highly_expressed_genes: n_top must lie in [1, ", counts.size(1),
              "], got ", n_top);
  const at::Tensor frac = normalize_total(counts.to(at::kDouble), 1.0, false);
  const at::Tensor mean = column_sums(frac, at::kDouble) / static_cast<double>(std::max<int64_t>(counts.size(0), 1));
  const at::Tensor order = std::get<1>(mean.sort(/*stable=*/true, /*dim=*/0, /*descending=*/true));
  return order.slice(0, 0, n_top).clone();
}

std::vector<int64_t> match_genes(const std::vector<std::string>& query, const std::vector<std::string>& ids,
                                 const std::vector<std::string>& names) {
  TORCH_CHECK(ids.size() == names.size() || ids.empty() || names.empty(), "match_genes: ids (", ids.size(),
              ") and names (", names.size(), ") must have the same length");
  std::unordered_map<std::string, int64_t> by_id, by_name, by_lower;
  for (size_t i = 0; i < ids.size(); ++i) by_id.emplace(strip_version(ids[i]), static_cast<int64_t>(i));
  for (size_t i = 0; i < names.size(); ++i) {
    by_name.emplace(names[i], static_cast<int64_t>(i));
    auto [it, inserted] = by_lower.emplace(lower(names[i]), static_cast<int64_t>(i));
    if (!inserted && it->second != static_cast<int64_t>(i)) it->second = -2;  // ambiguous
  }
  std::vector<int64_t> out;
  out.reserve(query.size());
  for (const auto& q : query) {
    int64_t idx = -1;
    if (auto it = by_id.find(strip_version(q)); it != by_id.end()) {
      idx = it->second;
    } else if (auto jt = by_name.find(q); jt != by_name.end()) {
      idx = jt->second;
    } else if (auto kt = by_lower.find(lower(q)); kt != by_lower.end() && kt->second >= 0) {
      idx = kt->second;
    }
    out.push_back(idx);
  }
  return out;
}

at::Tensor align_genes(const at::Tensor& counts, const std::vector<std::string>& ids,
                       const std::vector<std::string>& names, const std::vector<std::string>& target,
                       bool fill_missing) {
  check_matrix(counts, "align_genes", "counts");
  const int64_t g = counts.size(1);
  TORCH_CHECK(static_cast<int64_t>(std::max(ids.size(), names.size())) == g, "align_genes: counts has ", g,
              " gene columns but ", std::max(ids.size(), names.size()), " gene ids/names were given");
  std::vector<int64_t> idx = match_genes(target, ids, names);
  std::vector<std::string> missing;
  for (size_t t = 0; t < idx.size(); ++t) {
    if (idx[t] < 0) {
      if (missing.size() < 10) missing.push_back(target[t]);
      idx[t] = g;  // an all-zero column appended below
    }
  }
  const size_t n_missing = static_cast<size_t>(std::count(idx.begin(), idx.end(), g));
  if (!fill_missing && n_missing > 0) {
    std::string list;
    for (const auto& s : missing) list += (list.empty() ? "" : ", ") + s;
    TORCH_CHECK(false, "align_genes: ", n_missing, " of ", target.size(), " target genes are not in the matrix (",
                list, n_missing > missing.size() ? ", ..." : "", "); pass fill_missing=true for zero columns");
  }
  const at::Tensor sel = at::tensor(idx, at::kLong);
  if (counts.layout() == at::kStrided) {
    return at::cat({counts, at::zeros({counts.size(0), 1}, counts.options())}, 1).index_select(1, sel);
  }
  const at::Tensor coo = at::sparse_coo_tensor(at::stack({csr_rows(counts), counts.col_indices()}), counts.values(),
                                               {counts.size(0), g + 1});
  return coo.index_select(1, sel).coalesce().to_sparse_csr();
}

}  // namespace stx::data

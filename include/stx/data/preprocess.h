#pragma once
// Expression preprocessing on [cells/spots, genes] matrices (dense or sparse CSR, CPU).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// Scales every row to sum to `target_sum` (<= 0: the median of the non-zero row totals, as
// scanpy's normalize_total) and applies log1p when `log1p`. Rows that sum to 0 stay 0.
// Returns the same layout (dense or CSR) in floating point (float32 unless the input is float64).
STX_API at::Tensor normalize_total(const at::Tensor& counts, double target_sum = 1e4,
                                   bool log1p = true);

// scanpy's `flavor="seurat"` highly-variable-gene statistics on log-normalised data: per gene
// the log1p of the expm1-mean, the log dispersion (var/mean, ddof 1), the dispersion z-scored
// within `n_bins` equal-width bins of the mean (a bin with one gene gives 1), and the top
// `n_top_genes` by normalised dispersion.
struct HighlyVariable {
  at::Tensor means;             // [G] float64
  at::Tensor dispersions;       // [G] float64 (NaN for constant genes)
  at::Tensor dispersions_norm;  // [G] float64 (NaN where undefined)
  at::Tensor highly_variable;   // [G] bool
};
STX_API HighlyVariable highly_variable_genes(const at::Tensor& log_normalized, int64_t n_top_genes,
                                             int64_t n_bins = 20);

// Indices of the `n_top` genes with the largest mean fraction of each row's total (scanpy's
// highest_expr_genes rule), most expressed first; ties keep the lower index first.
STX_API at::Tensor highly_expressed_genes(const at::Tensor& counts, int64_t n_top);

// For each query (an Ensembl id, with or without a ".<version>" suffix, or a symbol), the index
// of the feature it names in (ids, names), or -1. Ids match exactly; symbols exactly, then
// case-insensitively when that is unambiguous.
STX_API std::vector<int64_t> match_genes(const std::vector<std::string>& query,
                                         const std::vector<std::string>& ids,
                                         const std::vector<std::string>& names);

// Columns of `counts` (whose genes are `ids`/`names`) reordered to `target` (ids or symbols).
// A target gene the matrix lacks is an error naming it unless `fill_missing`, which gives a
// zero column. Dense in -> dense out; CSR in -> CSR out.
STX_API at::Tensor align_genes(const at::Tensor& counts, const std::vector<std::string>& ids,
                               const std::vector<std::string>& names,
                               const std::vector<std::string>& target, bool fill_missing = false);

}  // namespace stx::data

#pragma once
// AnnData `.h5ad` files (anndata >= 0.7 encodings, plus the older `__categories` and
// `h5sparse_format` ones): X, raw, layers, obs/var data frames and obsm.
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// One data-frame column.
struct Column {
  enum class Kind { Numeric, String, Categorical };
  Kind kind = Kind::Numeric;
  at::Tensor values;                 // Numeric: the values (bool/int/float); Categorical: int64
                                     // codes, -1 = missing
  at::Tensor mask;                   // nullable-integer/-boolean/-float columns only: bool, true =
                                     // missing; `values` is then float64 with NaN where missing
                                     // (if any is), else keeps the stored dtype
  std::vector<std::string> strings;  // String: the values; Categorical: the categories
  bool ordered = false;              // Categorical only
};

struct DataFrame {
  std::vector<std::string> index;
  std::vector<std::string> column_order;  // as stored (columns not listed come after)
  std::map<std::string, Column> columns;
};

struct AnnData {
  at::Tensor X;                              // [n_obs, n_vars]: dense, sparse CSR or CSC
  DataFrame obs, var;
  std::map<std::string, at::Tensor> layers;  // same layouts as X
  std::map<std::string, at::Tensor> obsm;    // dense arrays (data-frame entries are skipped)
  std::optional<at::Tensor> raw_X;           // raw/X when the file has raw
  std::optional<DataFrame> raw_var;
};

struct H5adOptions {
  bool dense = false;                           // convert sparse matrices to strided
  std::optional<c10::ScalarType> dtype;         // nullopt keeps the stored type
  bool read_layers = true;
  bool read_raw = true;
};

STX_API AnnData read_h5ad(const std::string& path, const H5adOptions& options = {});

// Writes X (dense or CSR), obs/var (index + columns), layers and obsm with anndata's current
// encodings, so anndata.read_h5ad reads the file.
STX_API void write_h5ad(const std::string& path, const AnnData& adata);

}  // namespace stx::data

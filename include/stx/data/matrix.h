#pragma once
// 10x Genomics feature-barcode matrices: the HDF5 format (Cell Ranger 2 `/<genome>/...` and
// Cell Ranger 3+ / Space Ranger / Xenium `/matrix` layouts) and the MatrixMarket folder.
#include <ATen/core/Tensor.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// How a reader returns a count matrix.
struct MatrixOptions {
  bool dense = false;                         // false: sparse CSR [rows, genes]; true: strided
  std::optional<c10::ScalarType> dtype = at::kFloat;  // nullopt keeps the stored type
};

struct Features {
  std::vector<std::string> ids;      // Ensembl ids (Cell Ranger 2: `genes`)
  std::vector<std::string> names;    // symbols (Cell Ranger 2: `gene_names`)
  std::vector<std::string> types;    // "Gene Expression", ... ; CR2 files: all "Gene Expression"
  std::vector<std::string> genomes;  // may be empty
};

struct FeatureMatrix {
  at::Tensor counts;                  // [barcodes, features], CSR (int64 indices) or dense
  std::vector<std::string> barcodes;
  Features features;
  std::map<std::string, std::string> attributes;  // root string attributes (may be empty)
};

// Reads a 10x HDF5 matrix. Errors name the file, the HDF5 object and what was expected.
STX_API FeatureMatrix read_10x_h5(const std::string& path, const MatrixOptions& options = {});

// Reads a MatrixMarket folder: matrix.mtx, barcodes.tsv and features.tsv (or genes.tsv), each
// optionally .gz.
STX_API FeatureMatrix read_10x_mtx(const std::string& folder, const MatrixOptions& options = {});

// Writes the Cell Ranger 3 `/matrix` layout (CSC over features x barcodes, int32 data when
// the counts are integral, else float64). `counts` is [barcodes, features], dense or CSR.
STX_API void write_10x_h5(const std::string& path, const FeatureMatrix& matrix);

}  // namespace stx::data

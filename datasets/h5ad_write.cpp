// AnnData .h5ad writing with anndata's current encodings (anndata 0.8+ reads it).
#include <stx/data/h5ad.h>

#include <ATen/ATen.h>

#include "datasets/hdf5_io.h"

namespace stx::data {
namespace {

void tag(const h5::Node& node, const char* type, const char* version) {
  h5::set_attr(node, "encoding-type", std::string(type));
  h5::set_attr(node, "encoding-version", std::string(version));
}

void write_matrix(const h5::Node& loc, const std::string& name, const at::Tensor& m) {
  TORCH_CHECK(m.defined() && m.device().is_cpu(), "write_h5ad: '", name, "' must be a CPU tensor");
  if (m.layout() == at::kStrided) {
    h5::write_array(loc, name, m);
    tag(h5::open(loc, name), "array", "0.2.0");
    return;
  }
  TORCH_CHECK(m.layout() == at::kSparseCsr || m.layout() == at::kSparseCsc, "write_h5ad: '", name,
              "' must be dense, CSR or CSC, got ", m.layout());
  const bool csr = m.layout() == at::kSparseCsr;
  const h5::Node g = h5::create_group(loc, name);
  tag(g, csr ? "csr_matrix" : "csc_matrix", "0.1.0");
  h5::set_attr(g, "shape", std::vector<int64_t>{m.size(0), m.size(1)});
  h5::write_array(g, "data", m.values());
  h5::write_array(g, "indices", csr ? m.col_indices() : m.row_indices());
  h5::write_array(g, "indptr", csr ? m.crow_indices() : m.ccol_indices());
}

void write_string_array(const h5::Node& loc, const std::string& name, const std::vector<std::string>& values) {
  h5::write_strings(loc, name, values);
  tag(h5::open(loc, name), "string-array", "0.2.0");
}

void write_dataframe(const h5::Node& loc, const std::string& name, const DataFrame& df, int64_t rows) {
  const h5::Node g = h5::create_group(loc, name);
  tag(g, "dataframe", "0.2.0");
  h5::set_attr(g, "_index", std::string("_index"));
  std::vector<std::string> index = df.index;
  if (index.empty()) {
    for (int64_t i = 0; i < rows; ++i) index.push_back(std::to_string(i));
  }
  TORCH_CHECK(static_cast<int64_t>(index.size()) == rows, "write_h5ad: ", name, " index has ", index.size(),
              " entries, expected ", rows);
  write_string_array(g, "_index", index);
  std::vector<std::string> order = df.column_order;
  for (const auto& [col_name, col] : df.columns) {
    if (std::find(order.begin(), order.end(), col_name) == order.end()) order.push_back(col_name);
  }
  h5::set_attr(g, "column-order", order);
  for (const auto& col_name : order) {
    const auto it = df.columns.find(col_name);
    TORCH_CHECK(it != df.columns.end(), "write_h5ad: ", name, ".column_order names '", col_name, "', which is not a column");
    const Column& c = it->second;
    switch (c.kind) {
      case Column::Kind::Numeric:
        TORCH_CHECK(c.values.dim() == 1 && c.values.size(0) == rows, "write_h5ad: ", name, "['", col_name,
                    "'] must be 1-D with ", rows, " values");
        h5::write_array(g, col_name, c.values);
        tag(h5::open(g, col_name), "array", "0.2.0");
        break;
      case Column::Kind::String:
        TORCH_CHECK(static_cast<int64_t>(c.strings.size()) == rows, "write_h5ad: ", name, "['", col_name,
                    "'] must have ", rows, " strings");
        write_string_array(g, col_name, c.strings);
        break;
      case Column::Kind::Categorical: {
        TORCH_CHECK(c.values.dim() == 1 && c.values.size(0) == rows, "write_h5ad: ", name, "['", col_name,
                    "'] codes must be 1-D with ", rows, " values");
        const h5::Node cat = h5::create_group(g, col_name);
        tag(cat, "categorical", "0.2.0");
        h5::set_attr_bool(cat, "ordered", c.ordered);
        write_string_array(cat, "categories", c.strings);
        h5::write_array(cat, "codes", c.values.to(c.strings.size() < 127 ? at::kChar : at::kInt));
        tag(h5::open(cat, "codes"), "array", "0.2.0");
        break;
      }
    }
  }
}

void write_dict(const h5::Node& file, const std::string& name, const std::map<std::string, at::Tensor>& entries) {
  const h5::Node g = h5::create_group(file, name);
  tag(g, "dict", "0.1.0");
  for (const auto& [key, value] : entries) write_matrix(g, key, value);
}

}  // namespace

void write_h5ad(const std::string& path, const AnnData& a) {
  TORCH_CHECK(a.X.defined() && a.X.dim() == 2, "write_h5ad: X must be a 2-D tensor");
  auto guard = h5::lock();
  const h5::Node file = h5::create_file(path);
  tag(file, "anndata", "0.1.0");
  write_matrix(file, "X", a.X);
  write_dataframe(file, "obs", a.obs, a.X.size(0));
  write_dataframe(file, "var", a.var, a.X.size(1));
  write_dict(file, "layers", a.layers);
  write_dict(file, "obsm", a.obsm);
  for (const char* empty : {"obsp", "varm", "varp", "uns"}) write_dict(file, empty, {});
  if (a.raw_X) {
    const h5::Node raw = h5::create_group(file, "raw");
    tag(raw, "raw", "0.1.0");
    write_matrix(raw, "X", *a.raw_X);
    write_dataframe(raw, "var", a.raw_var.value_or(a.var), a.raw_X->size(1));
  }
}

}  // namespace stx::data

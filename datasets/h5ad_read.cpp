// AnnData .h5ad reading: matrices (dense / csr_matrix / csc_matrix, and the older
// h5sparse_format groups), data frames with both categorical encodings, layers, obsm, raw.
#include <stx/data/h5ad.h>

#include <ATen/ATen.h>

#include <algorithm>

#include "datasets/hdf5_io.h"
#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

std::string encoding_of(const h5::Node& node) {
  if (auto e = h5::attr_string(node, "encoding-type")) return *e;
  if (auto e = h5::attr_string(node, "h5sparse_format")) return *e + "_matrix";  // anndata < 0.7
  return is_group(node) ? "" : "array";
}

at::Tensor read_matrix(const h5::Node& node, const H5adOptions& o) {
  at::Tensor m;
  if (!h5::is_group(node)) {
    m = h5::read_array(node, o.dtype);
  } else {
    const std::string enc = encoding_of(node);
    TORCH_CHECK(enc == "csr_matrix" || enc == "csc_matrix", node.where(),
                ": expected a dense array or a csr_matrix/csc_matrix group, got encoding-type '", enc, "'");
    auto shape = h5::attr_ints(node, "shape");
    if (!shape) shape = h5::attr_ints(node, "h5sparse_shape");
    TORCH_CHECK(shape && shape->size() == 2, node.where(), ": sparse matrix without a 2-element 'shape' attribute");
    const int64_t rows = (*shape)[0], cols = (*shape)[1];
    const bool csr = enc == "csr_matrix";
    at::Tensor t = detail::checked_csr(h5::read_array(h5::open(node, "indptr"), at::kLong),
                                       h5::read_array(h5::open(node, "indices"), at::kLong),
                                       h5::read_array(h5::open(node, "data"), o.dtype), csr ? rows : cols, csr ? cols : rows,
                                       node.where());
    m = csr ? t
            : at::sparse_csc_tensor(t.crow_indices(), t.col_indices(), t.values(), {rows, cols},
                                    t.values().options().layout(at::kSparseCsc));
  }
  return detail::finish_matrix(m, o.dense, o.dtype);
}

std::vector<std::string> read_labels(const h5::Node& node) {
  if (h5::is_string_dataset(node)) return h5::read_strings(node);
  const at::Tensor v = h5::read_array(node).to(at::kDouble).flatten();  // a numeric index/categories
  std::vector<std::string> out;
  for (int64_t i = 0; i < v.numel(); ++i) {
    const double x = v[i].item<double>();
    out.push_back(x == static_cast<double>(static_cast<int64_t>(x)) ? std::to_string(static_cast<int64_t>(x))
                                                                    : std::to_string(x));
  }
  return out;
}

Column categorical(const h5::Node& codes, const h5::Node& categories, bool ordered) {
  Column c;
  c.kind = Column::Kind::Categorical;
  c.values = h5::read_array(codes).to(at::kLong);
  c.strings = read_labels(categories);
  c.ordered = ordered;
  const int64_t n = static_cast<int64_t>(c.strings.size());
  if (c.values.numel() > 0) {
    TORCH_CHECK(c.values.min().item<int64_t>() >= -1 && c.values.max().item<int64_t>() < n, codes.where(),
                ": categorical codes must lie in [-1, ", n, ") (there are ", n, " categories)");
  }
  return c;
}

DataFrame read_dataframe(const h5::Node& g) {
  TORCH_CHECK(h5::is_group(g), g.where(), ": expected a data-frame group (legacy compound-dataset obs/var from "
              "anndata < 0.7 is not supported)");
  DataFrame df;
  const std::string index_name = h5::attr_string(g, "_index").value_or("_index");
  if (h5::has(g, index_name)) df.index = read_labels(h5::open(g, index_name));
  df.column_order = h5::attr_strings(g, "column-order");
  for (const auto& name : h5::children(g)) {
    if (name == index_name || name == "__categories") continue;
    const h5::Node node = h5::open(g, name);
    Column col;
    if (h5::is_group(node)) {
      const std::string enc = encoding_of(node);
      if (enc == "categorical") {
        col = categorical(h5::open(node, "codes"), h5::open(node, "categories"), h5::attr_bool(node, "ordered", false));
      } else if (enc == "nullable-integer" || enc == "nullable-boolean" || enc == "nullable-float") {
        col.values = h5::read_array(h5::open(node, "values"));
      } else {
        continue;  // an encoding this reader does not map to a column
      }
    } else if (h5::is_string_dataset(node)) {
      col.kind = Column::Kind::String;
      col.strings = h5::read_strings(node);
    } else if (h5::has_attr(node, "categories")) {  // anndata < 0.8: codes + __categories/<name>
      col = categorical(node, h5::open(g, "__categories/" + name, "the categories of old-style categorical '" + name + "'"),
                        h5::attr_bool(node, "ordered", false));
    } else {
      col.values = h5::read_array(node);
    }
    const int64_t len = col.kind == Column::Kind::String ? static_cast<int64_t>(col.strings.size()) : col.values.size(0);
    TORCH_CHECK(df.index.empty() || len == static_cast<int64_t>(df.index.size()), node.where(), ": column has ", len,
                " entries, expected ", df.index.size(), " (the index length)");
    df.columns.emplace(name, std::move(col));
  }
  return df;
}

}  // namespace

AnnData read_h5ad(const std::string& path, const H5adOptions& options) {
  auto guard = h5::lock();
  const h5::Node file = h5::open_file(path);
  AnnData a;
  a.X = read_matrix(h5::open(file, "X", "the data matrix X"), options);
  a.obs = read_dataframe(h5::open(file, "obs", "the obs data frame"));
  a.var = read_dataframe(h5::open(file, "var", "the var data frame"));
  TORCH_CHECK(a.X.dim() == 2, path, ": X must be 2-D, got ", a.X.dim(), " dimensions");
  TORCH_CHECK(a.obs.index.empty() || static_cast<int64_t>(a.obs.index.size()) == a.X.size(0), path, ": X has ",
              a.X.size(0), " rows but obs has ", a.obs.index.size(), " entries");
  TORCH_CHECK(a.var.index.empty() || static_cast<int64_t>(a.var.index.size()) == a.X.size(1), path, ": X has ",
              a.X.size(1), " columns but var has ", a.var.index.size(), " entries");
  if (options.read_layers && h5::has(file, "layers")) {
    const h5::Node g = h5::open(file, "layers");
    for (const auto& name : h5::children(g)) a.layers.emplace(name, read_matrix(h5::open(g, name), options));
  }
  if (h5::has(file, "obsm")) {
    const h5::Node g = h5::open(file, "obsm");
    for (const auto& name : h5::children(g)) {
      const h5::Node node = h5::open(g, name);
      if (!h5::is_group(node) && !h5::is_string_dataset(node)) a.obsm.emplace(name, h5::read_array(node));
    }
  }
  if (options.read_raw && h5::has(file, "raw/X")) {
    a.raw_X = read_matrix(h5::open(file, "raw/X"), options);
    if (h5::has(file, "raw/var")) a.raw_var = read_dataframe(h5::open(file, "raw/var"));
  }
  return a;
}

}  // namespace stx::data

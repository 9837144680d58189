// AnnData .h5ad reading: matrices (dense / csr_matrix / csc_matrix, and the older
// h5sparse_format groups), data frames with both categorical encodings, layers, obsm, raw.
#include <stx/data/h5ad.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <limits>

#include "datasets/hdf5_io.h"
#include "datasets/hdf5_isolated.h"
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
    at::Tensor t = h5::read_csr(node, csr ? rows : cols, csr ? cols : rows, o.dtype);
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

// anndata's nullable arrays: `values` plus a boolean `mask` (true = missing). Missing entries
// become NaN (the values turn float64 when there is any; integers beyond 2^53 would then round,
// which is an error) and `mask` is kept on the column.
Column nullable(const h5::Node& node) {
  Column col;
  at::Tensor values = h5::read_array(h5::open(node, "values", "the values of a nullable array"));
  TORCH_CHECK(values.dim() == 1, node.where(), "/values: expected a 1-D array");
  if (!h5::has(node, "mask")) {  // anndata always writes it; without one nothing is missing
    col.values = values;
    col.mask = at::zeros({values.size(0)}, at::kBool);
    return col;
  }
  const at::Tensor mask = h5::read_array(h5::open(node, "mask", "the missing-value mask"));
  TORCH_CHECK(mask.dim() == 1 && mask.size(0) == values.size(0), node.where(), "/mask: has ", mask.numel(),
              " entries, expected ", values.size(0), " (one per value)");
  TORCH_CHECK(!at::isFloatingType(mask.scalar_type()), node.where(), "/mask: expected a boolean array");
  col.mask = mask.ne(0);
  if (col.mask.any().item<bool>()) {
    if (!at::isFloatingType(values.scalar_type()) && values.scalar_type() != at::kBool && values.numel() > 0) {
      const at::Tensor present = values.masked_select(col.mask.logical_not());
      TORCH_CHECK(present.numel() == 0 || present.abs().max().item<int64_t>() <= (int64_t(1) << 53), node.where(),
                  ": integers beyond 2^53 with missing entries cannot be represented as float64 with NaN");
    }
    values = at::isFloatingType(values.scalar_type()) ? values.clone() : values.to(at::kDouble);
    values.masked_fill_(col.mask, std::numeric_limits<double>::quiet_NaN());
  }
  col.values = values;
  return col;
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
        col = nullable(node);
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

AnnData read_here(const std::string& path, const H5adOptions& options) {
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
    for (const auto& name : h5::children(g)) {
      at::Tensor layer = read_matrix(h5::open(g, name), options);
      TORCH_CHECK(layer.sizes() == a.X.sizes(), path, ": layer '", name, "' has shape ", layer.sizes(),
                  ", expected X's shape ", a.X.sizes());
      a.layers.emplace(name, std::move(layer));
    }
  }
  if (h5::has(file, "obsm")) {
    const h5::Node g = h5::open(file, "obsm");
    for (const auto& name : h5::children(g)) {
      const h5::Node node = h5::open(g, name);
      if (h5::is_group(node) || h5::is_string_dataset(node)) continue;
      at::Tensor m = h5::read_array(node);
      TORCH_CHECK(m.dim() >= 1 && m.size(0) == a.X.size(0), path, ": obsm '", name, "' has shape ", m.sizes(),
                  ", expected ", a.X.size(0), " rows (one per row of X)");
      a.obsm.emplace(name, std::move(m));
    }
  }
  if (options.read_raw && h5::has(file, "raw/X")) {
    a.raw_X = read_matrix(h5::open(file, "raw/X"), options);
    TORCH_CHECK(a.raw_X->dim() == 2 && a.raw_X->size(0) == a.X.size(0), path, ": raw/X has shape ",
                a.raw_X->sizes(), ", expected ", a.X.size(0), " rows (as X)");
    if (h5::has(file, "raw/var")) a.raw_var = read_dataframe(h5::open(file, "raw/var"));
  }
  return a;
}

void encode_frame(h5::Sink& s, const DataFrame& df) {
  s.strs(df.index);
  s.strs(df.column_order);
  s.u64(df.columns.size());
  for (const auto& [name, c] : df.columns) {
    s.str(name);
    s.u64(static_cast<uint64_t>(c.kind));
    s.tensor(c.values);
    s.tensor(c.mask);
    s.strs(c.strings);
    s.u64(c.ordered ? 1 : 0);
  }
}

DataFrame decode_frame(h5::Source& s) {
  DataFrame df;
  df.index = s.strs();
  df.column_order = s.strs();
  const uint64_t n = s.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::string name = s.str();
    Column c;
    const uint64_t kind = s.u64();
    if (kind > static_cast<uint64_t>(Column::Kind::Categorical)) s.fail("malformed reply (column kind)");
    c.kind = static_cast<Column::Kind>(kind);
    c.values = s.tensor();
    c.mask = s.tensor();
    c.strings = s.strs();
    c.ordered = s.u64() != 0;
    df.columns.emplace(std::move(name), std::move(c));
  }
  return df;
}

void encode_tensors(h5::Sink& s, const std::map<std::string, at::Tensor>& m) {
  s.u64(m.size());
  for (const auto& [k, v] : m) {
    s.str(k);
    s.tensor(v);
  }
}

std::map<std::string, at::Tensor> decode_tensors(h5::Source& s) {
  std::map<std::string, at::Tensor> m;
  const uint64_t n = s.u64();
  for (uint64_t i = 0; i < n; ++i) {
    std::string k = s.str();
    m.emplace(std::move(k), s.tensor());
  }
  return m;
}

void encode(h5::Sink& s, const AnnData& a) {
  s.tensor(a.X);
  encode_frame(s, a.obs);
  encode_frame(s, a.var);
  encode_tensors(s, a.layers);
  encode_tensors(s, a.obsm);
  s.tensor(a.raw_X ? *a.raw_X : at::Tensor());
  s.u64(a.raw_var ? 1 : 0);
  if (a.raw_var) encode_frame(s, *a.raw_var);
}

AnnData decode(h5::Source& s) {
  AnnData a;
  a.X = s.tensor();
  a.obs = decode_frame(s);
  a.var = decode_frame(s);
  a.layers = decode_tensors(s);
  a.obsm = decode_tensors(s);
  if (at::Tensor raw = s.tensor(); raw.defined()) a.raw_X = raw;
  if (s.u64() != 0) a.raw_var = decode_frame(s);
  return a;
}

}  // namespace

AnnData read_h5ad(const std::string& path, const H5adOptions& options) {
  return h5::read_isolated<AnnData>(path, [&] { return read_here(path, options); }, encode, decode);
}

}  // namespace stx::data

// 10x feature-barcode matrices in HDF5: Cell Ranger 2 (/<genome>/...) and 3+ (/matrix).
#include <stx/data/matrix.h>

#include <ATen/ATen.h>

#include "datasets/hdf5_io.h"
#include "datasets/hdf5_isolated.h"
#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

// The group holding the matrix: /matrix (CR3+, Space Ranger, Xenium) or the single genome
// group of a Cell Ranger 2 file.
h5::Node matrix_group(const h5::Node& file, bool& legacy) {
  legacy = false;
  if (h5::has(file, "matrix")) return h5::open(file, "matrix");
  std::vector<std::string> genomes;
  for (const auto& name : h5::children(file)) {
    if (h5::has(file, name + "/indptr")) genomes.push_back(name);
  }
  TORCH_CHECK(!genomes.empty(), file.file,
              ": not a 10x feature-barcode matrix: expected a '/matrix' group (Cell Ranger 3+) or a "
              "'/<genome>' group with indptr (Cell Ranger 2)");
  TORCH_CHECK(genomes.size() == 1, file.file, ": ", genomes.size(),
              " genome groups (Cell Ranger 2 multi-genome file); read one genome at a time is not supported");
  legacy = true;
  return h5::open(file, genomes.front());
}

std::vector<std::string> strings_of(const h5::Node& loc, const std::string& name, int64_t expected,
                                    const std::string& what) {
  std::vector<std::string> v = h5::read_strings(h5::open(loc, name, what));
  TORCH_CHECK(static_cast<int64_t>(v.size()) == expected, loc.file, ": '", loc.child_path(name), "' has ", v.size(),
              " entries, expected ", expected, " (from the matrix shape)");
  return v;
}

FeatureMatrix read_here(const std::string& path, const MatrixOptions& options) {
  auto guard = h5::lock();
  const h5::Node file = h5::open_file(path);
  bool legacy = false;
  const h5::Node g = matrix_group(file, legacy);

  const at::Tensor shape = h5::read_array(h5::open(g, "shape", "int [n_features, n_barcodes]"));
  TORCH_CHECK(shape.numel() == 2 && !at::isFloatingType(shape.scalar_type()), g.where(),
              "/shape: expected 2 integers [n_features, n_barcodes]");
  const int64_t n_features = shape[0].item<int64_t>(), n_barcodes = shape[1].item<int64_t>();

  FeatureMatrix out;
  // Stored as CSC over [features, barcodes], i.e. CSR over [barcodes, features].
  out.counts = h5::read_csr(g, n_barcodes, n_features, options.dtype);
  out.counts = detail::finish_matrix(out.counts, options.dense, options.dtype);
  out.barcodes = strings_of(g, "barcodes", n_barcodes, "barcode strings");
  if (legacy) {
    out.features.ids = strings_of(g, "genes", n_features, "gene ids");
    out.features.names = strings_of(g, "gene_names", n_features, "gene symbols");
    out.features.types.assign(static_cast<size_t>(n_features), "Gene Expression");
    const size_t slash = g.path.rfind('/');
    out.features.genomes.assign(static_cast<size_t>(n_features), g.path.substr(slash + 1));
  } else {
    const h5::Node f = h5::open(g, "features", "the features group (id, name, feature_type)");
    out.features.ids = strings_of(f, "id", n_features, "feature ids");
    out.features.names = strings_of(f, "name", n_features, "feature names");
    out.features.types = h5::has(f, "feature_type") ? strings_of(f, "feature_type", n_features, "")
                                                    : std::vector<std::string>(n_features, "Gene Expression");
    if (h5::has(f, "genome")) out.features.genomes = strings_of(f, "genome", n_features, "");
  }
  out.attributes = h5::string_attrs(file);
  return out;
}

void encode(h5::Sink& s, const FeatureMatrix& m) {
  s.tensor(m.counts);
  s.strs(m.barcodes);
  s.strs(m.features.ids);
  s.strs(m.features.names);
  s.strs(m.features.types);
  s.strs(m.features.genomes);
  std::vector<std::string> kv;  // key, value, key, value, ...
  for (const auto& [k, v] : m.attributes) {
    kv.push_back(k);
    kv.push_back(v);
  }
  s.strs(kv);
}

FeatureMatrix decode(h5::Source& s) {
  FeatureMatrix m;
  m.counts = s.tensor();
  m.barcodes = s.strs();
  m.features.ids = s.strs();
  m.features.names = s.strs();
  m.features.types = s.strs();
  m.features.genomes = s.strs();
  const std::vector<std::string> kv = s.strs();
  for (size_t i = 0; i + 1 < kv.size(); i += 2) m.attributes.emplace(kv[i], kv[i + 1]);
  return m;
}

}  // namespace

FeatureMatrix read_10x_h5(const std::string& path, const MatrixOptions& options) {
  return h5::read_isolated<FeatureMatrix>(path, [&] { return read_here(path, options); }, encode, decode);
}

void write_10x_h5(const std::string& path, const FeatureMatrix& m) {
  TORCH_CHECK(m.counts.defined() && m.counts.dim() == 2, "write_10x_h5: counts must be a 2-D [barcodes, features] tensor");
  const int64_t n_barcodes = m.counts.size(0), n_features = m.counts.size(1);
  TORCH_CHECK(static_cast<int64_t>(m.barcodes.size()) == n_barcodes, "write_10x_h5: ", m.barcodes.size(),
              " barcodes for ", n_barcodes, " rows of counts");
  TORCH_CHECK(static_cast<int64_t>(m.features.ids.size()) == n_features &&
                  static_cast<int64_t>(m.features.names.size()) == n_features,
              "write_10x_h5: features.ids and features.names must have one entry per column (", n_features, ")");
  at::Tensor csr = m.counts.layout() == at::kSparseCsr ? m.counts : m.counts.to_sparse_csr();
  at::Tensor values = csr.values();
  const bool integral = !at::isFloatingType(values.scalar_type()) || values.eq(values.round()).all().item<bool>();
  values = integral ? values.to(at::kInt) : values.to(at::kDouble);

  auto guard = h5::lock();
  const h5::Node file = h5::create_file(path);
  h5::set_attr(file, "filetype", std::string("matrix"));
  h5::set_attr(file, "software_version", std::string("stx"));
  h5::set_attr(file, "version", std::vector<int64_t>{2});
  const h5::Node g = h5::create_group(file, "matrix");
  h5::write_strings(g, "barcodes", m.barcodes, /*variable_length=*/false);
  h5::write_array(g, "data", values);
  h5::write_array(g, "indices", csr.col_indices().to(at::kLong));
  h5::write_array(g, "indptr", csr.crow_indices().to(at::kLong));
  h5::write_array(g, "shape", at::tensor({static_cast<int32_t>(n_features), static_cast<int32_t>(n_barcodes)}));
  const h5::Node f = h5::create_group(g, "features");
  const auto fill = [&](const std::vector<std::string>& v, const char* dflt) {
    return v.empty() ? std::vector<std::string>(static_cast<size_t>(n_features), dflt) : v;
  };
  h5::write_strings(f, "id", m.features.ids, false);
  h5::write_strings(f, "name", m.features.names, false);
  h5::write_strings(f, "feature_type", fill(m.features.types, "Gene Expression"), false);
  h5::write_strings(f, "genome", fill(m.features.genomes, "synthetic"), false);
  h5::write_strings(f, "_all_tag_keys", {"genome"}, false);
}

}  // namespace stx::data

// Legacy Spatial Transcriptomics: counts TSV(.gz) spots x genes + spot selection TSV + image.
#include <stx/data/legacy_st.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <unordered_map>

#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

// Dense spots x genes counts; the first header cell is empty (the row-name column).
struct CountsTable {
  std::vector<std::string> spots, genes;
  std::vector<float> values;  // row-major
};

CountsTable parse_counts(const std::string& text, const std::string& path) {
  CountsTable t;
  size_t pos = text.find('\n');
  TORCH_CHECK(pos != std::string::npos, path, ": expected a header line of gene names and at least one spot row");
  std::string_view header(text.data(), pos);
  if (!header.empty() && header.back() == '\r') header.remove_suffix(1);
  size_t start = 0;
  bool first = true;
  while (start <= header.size()) {
    size_t tab = header.find('\t', start);
    if (tab == std::string_view::npos) tab = header.size();
    if (!first) t.genes.emplace_back(header.substr(start, tab - start));
    first = false;
    start = tab + 1;
  }
  TORCH_CHECK(!t.genes.empty(), path, ": the header has no gene columns (expected tab-separated gene names)");
  check_utf8(header, path, 1, "the header");
  const size_t g = t.genes.size();
  const char* p = text.c_str() + pos + 1;
  const char* end = text.c_str() + text.size();
  while (p < end) {
    const char* eol = static_cast<const char*>(std::memchr(p, '\n', static_cast<size_t>(end - p)));
    if (!eol) eol = end;
    const char* tab = static_cast<const char*>(std::memchr(p, '\t', static_cast<size_t>(eol - p)));
    if (eol == p || (eol == p + 1 && *p == '\r')) {  // blank line
      p = eol + 1;
      continue;
    }
    const size_t line_no = t.spots.size() + 2;
    TORCH_CHECK(tab != nullptr, path, ": line ", line_no, " has no tab-separated counts");
    t.spots.emplace_back(p, tab);
    check_utf8(t.spots.back(), path, line_no, "the spot name");
    const char* q = tab;
    for (size_t j = 0; j < g; ++j) {
      TORCH_CHECK(q < eol && *q == '\t', path, ": line ", line_no, " (spot '", t.spots.back(), "') has ", j,
                  " counts, expected ", g, " (one per gene in the header)");
      char* next = nullptr;
      const double v = std::strtod(q + 1, &next);
      TORCH_CHECK(next != q + 1 && next <= eol, path, ": line ", line_no, " column ", j + 2,
                  ": expected a number");
      t.values.push_back(static_cast<float>(v));
      q = next;
    }
    TORCH_CHECK(q == eol || (q + 1 == eol && *q == '\r'), path, ": line ", line_no, " has more than ", g,
                " counts (the header names ", g, " genes)");
    p = eol + 1;
  }
  return t;
}

}  // namespace

SpatialSample read_legacy_st(const std::string& counts_path, const std::string& spots_path,
                             const std::string& image_path, const MatrixOptions& options) {
  const CountsTable c = parse_counts(read_text_file(counts_path), counts_path);
  const Table sel = parse_delimited(read_text_file(spots_path), '\t', true, spots_path);
  const int64_t cx = sel.column("x", spots_path), cy = sel.column("y", spots_path);
  const int64_t px = sel.column("pixel_x", spots_path), py = sel.column("pixel_y", spots_path);
  std::unordered_map<std::string, size_t> row_of;
  for (size_t r = 0; r < sel.rows.size(); ++r) {
    const std::string where = spots_path + " row " + std::to_string(r + 2);
    row_of[std::to_string(parse_int(sel.rows[r][cx], where + " x")) + "x" +
           std::to_string(parse_int(sel.rows[r][cy], where + " y"))] = r;
  }
  SpatialSample s;
  const int64_t n = static_cast<int64_t>(c.spots.size()), g = static_cast<int64_t>(c.genes.size());
  s.coords_px = at::empty({n, 2}, at::kFloat);
  s.array_coords = at::empty({n, 2}, at::kLong);
  auto xy = s.coords_px.accessor<float, 2>();
  auto rc = s.array_coords.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto it = row_of.find(c.spots[i]);
    TORCH_CHECK(it != row_of.end(), counts_path, ": spot '", c.spots[i], "' is missing from the spot file ",
                spots_path, " (joined on \"<x>x<y>\")");
    const auto& row = sel.rows[it->second];
    const std::string where = spots_path + " spot " + c.spots[i];
    xy[i][0] = static_cast<float>(parse_double(row[px], where + " pixel_x"));
    xy[i][1] = static_cast<float>(parse_double(row[py], where + " pixel_y"));
    rc[i][0] = parse_int(row[cy], where + " y");
    rc[i][1] = parse_int(row[cx], where + " x");
  }
  at::Tensor dense = at::from_blob(const_cast<float*>(c.values.data()), {n, g}, at::kFloat).clone();
  s.counts = detail::finish_matrix(options.dense ? dense : dense.to_sparse_csr(), options.dense, options.dtype);
  s.barcodes = c.spots;
  s.gene_names = c.genes;
  s.gene_ids = c.genes;
  s.sample_id = std::filesystem::path(counts_path).filename().string();
  s.sample_id = s.sample_id.substr(0, s.sample_id.find('.'));
  if (!image_path.empty()) {
    std::error_code ec;
    TORCH_CHECK(std::filesystem::is_regular_file(image_path, ec), "read_legacy_st: image not found: ", image_path);
    s.image_path = image_path;
    s.images["fullres"] = image_path;
  }
  return s;
}

}  // namespace stx::data

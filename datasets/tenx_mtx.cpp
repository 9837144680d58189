// 10x MatrixMarket folders: matrix.mtx + barcodes.tsv + features.tsv / genes.tsv (each maybe .gz).
#include <stx/data/matrix.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cctype>
#include <cstring>
#include <cstdlib>
#include <filesystem>

#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

namespace fs = std::filesystem;

// The first of `names` (each also tried with .gz) that exists in `folder`, or "".
std::string find_file(const std::string& folder, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    for (const std::string suffix : {"", ".gz"}) {
      const fs::path p = fs::path(folder) / (std::string(n) + suffix);
      std::error_code ec;
      if (fs::is_regular_file(p, ec)) return p.string();
    }
  }
  return "";
}

struct Coo {
  int64_t rows = 0, cols = 0;
  std::vector<int64_t> row, col;
  std::vector<double> value;
};

// MatrixMarket "coordinate" (integer/real/pattern, general) with 1-based indices.
Coo parse_mtx(const std::string& text, const std::string& path) {
  size_t pos = 0;
  auto next_line = [&](std::string_view& line) {
    if (pos >= text.size()) return false;
    size_t end = text.find('\n', pos);
    if (end == std::string::npos) end = text.size();
    line = std::string_view(text).substr(pos, end - pos);
    pos = end + 1;
    return true;
  };
  std::string_view line;
  TORCH_CHECK(next_line(line) && line.rfind("%%MatrixMarket", 0) == 0, path,
              ": not a MatrixMarket file (expected a '%%MatrixMarket matrix coordinate ...' first line)");
  // The banner: %%MatrixMarket matrix <format> <field> <symmetry>, case-insensitive.
  std::vector<std::string> banner;
  {
    std::string word;
    for (char c : line) {
      if (std::isspace(static_cast<unsigned char>(c))) {
        if (!word.empty()) banner.push_back(word);
        word.clear();
      } else {
        word += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      }
    }
    if (!word.empty()) banner.push_back(word);
  }
  TORCH_CHECK(banner.size() == 5 && banner[1] == "matrix", path, ": expected the banner '%%MatrixMarket matrix ",
              "coordinate <integer|real|pattern> general', got '", std::string(line.substr(0, 120)), "'");
  TORCH_CHECK(banner[2] == "coordinate", path, ": only the sparse 'coordinate' MatrixMarket format is supported, got '",
              banner[2], "'");
  TORCH_CHECK(banner[3] == "integer" || banner[3] == "real" || banner[3] == "pattern", path, ": MatrixMarket field '",
              banner[3], "' is not supported (count matrices are integer, real or pattern)");
  // A feature x barcode matrix is never symmetric: such a header means a different kind of file,
  // and reading only the stored triangle would silently drop half of it.
  TORCH_CHECK(banner[4] == "general", path, ": MatrixMarket symmetry '", banner[4],
              "' is not supported (a 10x count matrix is 'general')");
  const bool pattern = banner[3] == "pattern";
  while (next_line(line) && (line.empty() || line[0] == '%')) {
  }
  Coo coo;
  long long nnz = -1;
  const std::string size_line(line);
  TORCH_CHECK(std::sscanf(size_line.c_str(), "%ld %ld %lld", &coo.rows, &coo.cols, &nnz) == 3 && coo.rows >= 0 &&
                  coo.cols >= 0 && nnz >= 0,
              path, ": expected the size line 'rows cols nnz', got '", size_line.substr(0, 80), "'");
  // Each entry takes at least 4 bytes of text: a bogus header cannot make us allocate more.
  const size_t cap = std::min<size_t>(static_cast<size_t>(nnz), text.size() / 4 + 1);
  coo.row.reserve(cap);
  coo.col.reserve(cap);
  coo.value.reserve(cap);
  const char* p = text.c_str() + std::min(pos, text.size());
  const char* end = text.c_str() + text.size();
  for (long long k = 0; k < nnz; ++k) {
    char* q = nullptr;
    const long long i = std::strtoll(p, &q, 10);
    TORCH_CHECK(q != p, path, ": entry ", k + 1, " of ", nnz, " is missing or not 'row col value'");
    p = q;
    const long long j = std::strtoll(p, &q, 10);
    TORCH_CHECK(q != p, path, ": entry ", k + 1, " has no column index");
    p = q;
    double v = 1.0;
    if (!pattern) {
      v = std::strtod(p, &q);
      TORCH_CHECK(q != p, path, ": entry ", k + 1, " has no value");
      p = q;
    }
    TORCH_CHECK(i >= 1 && i <= coo.rows && j >= 1 && j <= coo.cols, path, ": entry ", k + 1, " (", i, ", ", j,
                ") lies outside the declared ", coo.rows, " x ", coo.cols, " matrix");
    coo.row.push_back(i - 1);
    coo.col.push_back(j - 1);
    coo.value.push_back(v);
  }
  TORCH_CHECK(p <= end, path, ": truncated");
  // Only whitespace and comment lines may follow the declared entries.
  while (p < end) {
    if (std::isspace(static_cast<unsigned char>(*p))) {
      ++p;
    } else if (*p == '%') {
      const void* eol = std::memchr(p, '\n', static_cast<size_t>(end - p));
      p = eol ? static_cast<const char*>(eol) : end;
    } else {
      TORCH_CHECK(false, path, ": more entries than the ", nnz, " the size line declares");
    }
  }
  return coo;
}

}  // namespace

FeatureMatrix read_10x_mtx(const std::string& folder, const MatrixOptions& options) {
  const std::string mtx = find_file(folder, {"matrix.mtx"});
  const std::string bc = find_file(folder, {"barcodes.tsv"});
  const std::string ft = find_file(folder, {"features.tsv", "genes.tsv"});
  TORCH_CHECK(!mtx.empty() && !bc.empty() && !ft.empty(), folder,
              ": not a 10x MatrixMarket folder (expected matrix.mtx, barcodes.tsv and features.tsv or genes.tsv, "
              "optionally .gz)");
  FeatureMatrix out;
  for (auto& row : parse_delimited(read_text_file(bc), '\t', false, bc).rows) out.barcodes.push_back(row.at(0));
  const Table features = parse_delimited(read_text_file(ft), '\t', false, ft);
  for (const auto& row : features.rows) {
    TORCH_CHECK(row.size() >= 2, ft, ": expected 'id<TAB>name[<TAB>type]' rows, got ", row.size(), " field(s)");
    out.features.ids.push_back(row[0]);
    out.features.names.push_back(row[1]);
    out.features.types.push_back(row.size() >= 3 ? row[2] : "Gene Expression");
  }
  const Coo coo = parse_mtx(read_text_file(mtx), mtx);
  TORCH_CHECK(coo.rows == static_cast<int64_t>(out.features.ids.size()), mtx, ": ", coo.rows,
              " rows (features) but ", ft, " lists ", out.features.ids.size());
  TORCH_CHECK(coo.cols == static_cast<int64_t>(out.barcodes.size()), mtx, ": ", coo.cols,
              " columns (barcodes) but ", bc, " lists ", out.barcodes.size());
  const int64_t nnz = static_cast<int64_t>(coo.value.size());
  at::Tensor idx = at::empty({2, nnz}, at::kLong);
  if (nnz > 0) {
    idx[0].copy_(at::tensor(coo.col));  // rows of the result are barcodes
    idx[1].copy_(at::tensor(coo.row));
  }
  at::Tensor values = at::tensor(coo.value, at::kDouble);
  at::Tensor coalesced = at::sparse_coo_tensor(idx, values, {coo.cols, coo.rows}).coalesce();
  TORCH_CHECK(coalesced._nnz() == nnz, mtx, ": ", nnz - coalesced._nnz(),
              " entries repeat an earlier (row, column); duplicates are not summed");
  out.counts = coalesced.to_sparse_csr();
  // CSR from COO keeps int64 indices; the declared dtype follows the options.
  out.counts = detail::finish_matrix(out.counts, options.dense, options.dtype);
  return out;
}

}  // namespace stx::data

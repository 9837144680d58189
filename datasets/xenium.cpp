// Xenium cell table and polygon readers.
#include <stx/data/text.h>
#include <stx/data/xenium.h>

#include <ATen/ATen.h>

#include "datasets/vector_tensor.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <unordered_set>

namespace stx::data {
namespace {

// An empty field is NaN (Xenium leaves nucleus_area empty for cells without a nucleus).
double parse_or_nan(const std::string& field, const std::string& path, size_t line, const char* column) {
  return field.empty() ? std::numeric_limits<double>::quiet_NaN() : parse_double(field, path, line, column);
}

}  // namespace

CellTable read_xenium_cells(const std::string& path) {
  int64_t c_id = 0, c_x = 0, c_y = 0, c_tx = 0, c_area = 0, c_nuc = 0;
  std::vector<double> xy, area, nuc;
  std::vector<int64_t> tx;
  CellTable out;
  std::unordered_set<std::string> seen;
  for_each_record_in_file(
      path, ',',
      [&](const std::vector<std::string>& header) {
        c_id = find_column(header, "cell_id", path);
        c_x = find_column(header, "x_centroid", path);
        c_y = find_column(header, "y_centroid", path);
        c_tx = find_column(header, "transcript_counts", path);
        c_area = find_column(header, "cell_area", path);
        c_nuc = find_column(header, "nucleus_area", path);
      },
      [&](const std::vector<std::string>& row, size_t line) {
        TORCH_CHECK(!row[c_id].empty(), path, " line ", line, ": empty cell_id");
        TORCH_CHECK(seen.insert(row[c_id]).second, path, " line ", line, ": duplicate cell_id '", row[c_id], "'");
        out.cell_ids.push_back(row[c_id]);
        xy.push_back(parse_double(row[c_x], path, line, "x_centroid"));
        xy.push_back(parse_double(row[c_y], path, line, "y_centroid"));
        TORCH_CHECK(std::isfinite(xy[xy.size() - 2]) && std::isfinite(xy.back()), path, " line ", line, ": centroid must be finite");
        tx.push_back(parse_int(row[c_tx], path, line, "transcript_counts"));
        area.push_back(parse_double(row[c_area], path, line, "cell_area"));
        nuc.push_back(parse_or_nan(row[c_nuc], path, line, "nucleus_area"));
      });
  const auto n = static_cast<int64_t>(out.cell_ids.size());
  out.centroids_um = detail::vector_tensor(std::move(xy)).view({n, 2});
  out.transcript_counts = detail::vector_tensor(std::move(tx));
  out.cell_area = detail::vector_tensor(std::move(area));
  out.nucleus_area = detail::vector_tensor(std::move(nuc));
  return out;
}

Polygons read_xenium_polygons(const std::string& path) {
  int64_t c_id = 0, c_x = 0, c_y = 0;
  std::vector<double> xy;
  std::vector<int64_t> offsets;
  std::unordered_set<std::string> done;
  Polygons out;
  auto close_polygon = [&] {
    TORCH_CHECK(offsets.empty() || static_cast<int64_t>(xy.size() / 2) - offsets.back() >= 3, path, ": polygon '",
                out.ids.back(), "' has fewer than 3 vertices");
  };
  for_each_record_in_file(
      path, ',',
      [&](const std::vector<std::string>& header) {
        c_id = find_column(header, "cell_id", path);
        c_x = find_column(header, "vertex_x", path);
        c_y = find_column(header, "vertex_y", path);
      },
      [&](const std::vector<std::string>& row, size_t line) {
        if (out.ids.empty() || row[c_id] != out.ids.back()) {
          TORCH_CHECK(!row[c_id].empty(), path, " line ", line, ": empty cell_id");
          TORCH_CHECK(done.insert(row[c_id]).second, path, " line ", line, ": the vertices of cell '", row[c_id],
                      "' are not consecutive (it appeared earlier in the file)");
          close_polygon();
          out.ids.push_back(row[c_id]);
          offsets.push_back(static_cast<int64_t>(xy.size() / 2));
        }
        xy.push_back(parse_double(row[c_x], path, line, "vertex_x"));
        xy.push_back(parse_double(row[c_y], path, line, "vertex_y"));
        TORCH_CHECK(std::isfinite(xy[xy.size() - 2]) && std::isfinite(xy.back()), path, " line ", line, ": vertex must be finite");
      });
  close_polygon();
  const auto v = static_cast<int64_t>(xy.size() / 2);
  offsets.push_back(v);
  out.vertices = detail::vector_tensor(std::move(xy)).view({v, 2});
  out.offsets = detail::vector_tensor(std::move(offsets));
  return out;
}

}  // namespace stx::data

// 10x Visium Space Ranger folders (1.x and >= 2.0 positions files), joined to the matrix.
#include <stx/data/visium.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include <filesystem>
#include <unordered_map>

#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

namespace fs = std::filesystem;

bool is_file(const fs::path& p) {
  std::error_code ec;
  return fs::is_regular_file(p, ec);
}

struct Positions {
  std::unordered_map<std::string, size_t> row_of;  // barcode -> row
  std::vector<int64_t> in_tissue, array_row, array_col;
  std::vector<double> pxl_row, pxl_col;
};

// tissue_positions.csv (>= 2.0, header) or tissue_positions_list.csv (1.x, no header); both
// have the columns barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres.
Positions read_positions(const fs::path& spatial) {
  const fs::path v2 = spatial / "tissue_positions.csv", v1 = spatial / "tissue_positions_list.csv";
  const bool has_header = is_file(v2);
  const fs::path path = has_header ? v2 : v1;
  if (!is_file(path)) {
    TORCH_CHECK(!is_file(spatial / "tissue_positions.parquet"), spatial.string(),
                ": only tissue_positions.parquet is present; reading parquet is not supported, convert it to "
                "tissue_positions.csv");
    TORCH_CHECK(false, spatial.string(), ": not a Visium spatial folder (expected tissue_positions.csv or "
                "tissue_positions_list.csv)");
  }
  const std::string source = path.string();
  const Table t = parse_delimited(read_text_file(source), ',', has_header, source);
  std::vector<int64_t> col = {0, 1, 2, 3, 4, 5};
  if (has_header) {
    const char* names[] = {"barcode", "in_tissue", "array_row", "array_col", "pxl_row_in_fullres",
                           "pxl_col_in_fullres"};
    for (size_t i = 0; i < 6; ++i) col[i] = t.column(names[i], source);
  }
  Positions p;
  p.row_of.reserve(t.rows.size());
  for (size_t r = 0; r < t.rows.size(); ++r) {
    const auto& row = t.rows[r];
    TORCH_CHECK(row.size() >= 6, source, ": row ", r + 1, " has ", row.size(),
                " fields, expected 6 (barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres)");
    const std::string where = source + " row " + std::to_string(r + 1);
    p.row_of.emplace(row[col[0]], r);
    p.in_tissue.push_back(parse_int(row[col[1]], where + " in_tissue"));
    p.array_row.push_back(parse_int(row[col[2]], where + " array_row"));
    p.array_col.push_back(parse_int(row[col[3]], where + " array_col"));
    p.pxl_row.push_back(parse_double(row[col[4]], where + " pxl_row_in_fullres"));
    p.pxl_col.push_back(parse_double(row[col[5]], where + " pxl_col_in_fullres"));
  }
  return p;
}

}  // namespace

SpatialSample read_visium(const std::string& folder, const MatrixOptions& options) {
  const fs::path root(folder);
  std::error_code ec;
  TORCH_CHECK(fs::is_directory(root, ec), "read_visium: folder not found: ", folder);
  const fs::path spatial = root / "spatial";
  const fs::path h5 = root / "filtered_feature_bc_matrix.h5", mtx = root / "filtered_feature_bc_matrix";
  const bool have_h5 = is_file(h5), have_mtx = fs::is_directory(mtx, ec);
  TORCH_CHECK((have_h5 || have_mtx) && fs::is_directory(spatial, ec), folder,
              ": not a Visium folder (expected filtered_feature_bc_matrix.h5 or filtered_feature_bc_matrix/ and a "
              "spatial/ folder; found matrix: ", have_h5 || have_mtx ? "yes" : "no", ", spatial/: ",
              fs::is_directory(spatial, ec) ? "yes" : "no", ")");

  MatrixOptions sparse_first = options;
  sparse_first.dense = false;  // select rows while sparse, densify at the end
  FeatureMatrix m = have_h5 ? read_10x_h5(h5.string(), sparse_first) : read_10x_mtx(mtx.string(), sparse_first);
  const Positions pos = read_positions(spatial);

  SpatialSample s;
  s.sample_id = root.filename().string();
  if (s.sample_id.empty() || s.sample_id == "outs") s.sample_id = root.parent_path().filename().string();
  const int64_t n = static_cast<int64_t>(m.barcodes.size());
  s.coords_px = at::empty({n, 2}, at::kFloat);
  s.array_coords = at::empty({n, 2}, at::kLong);
  auto xy = s.coords_px.accessor<float, 2>();
  auto rc = s.array_coords.accessor<int64_t, 2>();
  for (int64_t i = 0; i < n; ++i) {
    const auto it = pos.row_of.find(m.barcodes[i]);
    TORCH_CHECK(it != pos.row_of.end(), folder, ": matrix barcode '", m.barcodes[i],
                "' is missing from the spatial positions file (", (spatial).string(), ")");
    xy[i][0] = static_cast<float>(pos.pxl_col[it->second]);
    xy[i][1] = static_cast<float>(pos.pxl_row[it->second]);
    rc[i][0] = pos.array_row[it->second];
    rc[i][1] = pos.array_col[it->second];
  }
  s.counts = detail::finish_matrix(m.counts, options.dense, std::nullopt);
  s.barcodes = std::move(m.barcodes);
  s.gene_names = std::move(m.features.names);
  s.gene_ids = std::move(m.features.ids);

  const fs::path sf = spatial / "scalefactors_json.json";
  if (is_file(sf)) s.scalefactors = parse_json_scalars(read_text_file(sf.string()), sf.string()).numbers;
  if (auto it = s.scalefactors.find("microns_per_pixel"); it != s.scalefactors.end()) {
    s.microns_per_pixel = it->second;
  } else if (auto d = s.scalefactors.find("spot_diameter_fullres"); d != s.scalefactors.end() && d->second > 0) {
    s.microns_per_pixel = 55.0 / d->second;  // Visium spots are 55 um across
  }
  for (const char* kind : {"hires", "lowres"}) {
    const fs::path img = spatial / ("tissue_" + std::string(kind) + "_image.png");
    if (is_file(img)) s.images[kind] = img.string();
  }
  for (const char* kind : {"lowres", "hires"}) {  // prefer hires
    auto img = s.images.find(kind);
    auto scale = s.scalefactors.find("tissue_" + std::string(kind) + "_scalef");
    if (img != s.images.end() && scale != s.scalefactors.end()) {
      s.image_path = img->second;
      s.image_scale = scale->second;
    }
  }
  return s;
}

}  // namespace stx::data

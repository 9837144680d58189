// HEST-1k sample layout: st/<id>.h5ad + wsis/<id>.tif + metadata/<id>.json (+ patches/<id>.h5).
#include <stx/data/hest.h>
#include <stx/data/h5ad.h>
#include <stx/data/text.h>

#include <ATen/ATen.h>

#include <filesystem>

#include "datasets/sparse_util.h"

namespace stx::data {
namespace {

namespace fs = std::filesystem;

const Column* numeric_column(const DataFrame& df, const char* name) {
  const auto it = df.columns.find(name);
  return it != df.columns.end() && it->second.kind == Column::Kind::Numeric ? &it->second : nullptr;
}

}  // namespace

SpatialSample read_hest(const std::string& folder, const std::string& sample_id, const MatrixOptions& options) {
  const fs::path root(folder);
  const fs::path st = root / "st" / (sample_id + ".h5ad");
  std::error_code ec;
  TORCH_CHECK(fs::is_regular_file(st, ec), folder, ": not a HEST-1k folder for sample '", sample_id,
              "' (expected ", st.string(), ")");
  H5adOptions ho;
  ho.read_layers = false;
  ho.read_raw = false;
  ho.dtype = options.dtype;
  AnnData a = read_h5ad(st.string(), ho);
  SpatialSample s;
  s.sample_id = sample_id;
  at::Tensor X = a.X.layout() == at::kSparseCsc ? a.X.to_dense() : a.X;
  if (!options.dense && X.layout() == at::kStrided) X = X.to_sparse_csr();
  s.counts = detail::finish_matrix(X, options.dense, std::nullopt);
  s.barcodes = a.obs.index;
  s.gene_names = a.var.index;
  s.gene_ids = a.var.index;
  if (const auto it = a.var.columns.find("gene_ids"); it != a.var.columns.end() && it->second.kind == Column::Kind::String) {
    s.gene_ids = it->second.strings;
  }
  const int64_t n = s.counts.size(0);
  if (const auto it = a.obsm.find("spatial"); it != a.obsm.end()) {
    TORCH_CHECK(it->second.dim() == 2 && it->second.size(0) == n && it->second.size(1) >= 2, st.string(),
                ": obsm['spatial'] must be [n_obs, 2] (x, y), got ", it->second.sizes());
    s.coords_px = it->second.slice(1, 0, 2).to(at::kFloat).contiguous();
  } else {
    const Column* x = numeric_column(a.obs, "pxl_col_in_fullres");
    const Column* y = numeric_column(a.obs, "pxl_row_in_fullres");
    TORCH_CHECK(x && y, st.string(), ": no spot coordinates (expected obsm['spatial'] or obs columns "
                "pxl_col_in_fullres / pxl_row_in_fullres)");
    s.coords_px = at::stack({x->values.to(at::kFloat), y->values.to(at::kFloat)}, 1);
  }
  const Column* ar = numeric_column(a.obs, "array_row");
  const Column* ac = numeric_column(a.obs, "array_col");
  s.array_coords = ar && ac ? at::stack({ar->values.to(at::kLong), ac->values.to(at::kLong)}, 1)
                            : at::full({n, 2}, -1, at::kLong);

  const fs::path meta = root / "metadata" / (sample_id + ".json");
  if (fs::is_regular_file(meta, ec)) {
    const JsonScalars m = parse_json_scalars(read_text_file(meta.string()), meta.string());
    for (const char* key : {"pixel_size_um_estimated", "pixel_size_um_embedded"}) {
      const auto it = m.numbers.find(key);
      if (it != m.numbers.end() && it->second > 0 && std::isnan(s.microns_per_pixel)) s.microns_per_pixel = it->second;
    }
    s.scalefactors = m.numbers;
  }
  for (const char* ext : {".tif", ".tiff", ".svs", ".ome.tif"}) {
    const fs::path wsi = root / "wsis" / (sample_id + ext);
    if (fs::is_regular_file(wsi, ec) && s.image_path.empty()) {
      s.image_path = wsi.string();
      s.images["wsi"] = wsi.string();
    }
  }
  const fs::path patches = root / "patches" / (sample_id + ".h5");
  if (fs::is_regular_file(patches, ec)) s.images["patches"] = patches.string();
  return s;
}

}  // namespace stx::data

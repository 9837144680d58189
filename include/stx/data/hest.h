#pragma once
// HEST-1k sample layout: <folder>/st/<id>.h5ad, wsis/<id>.tif, metadata/<id>.json and
// (optional) patches/<id>.h5.
#include <string>

#include <stx/data/matrix.h>
#include <stx/data/sample.h>

namespace stx::data {

// Spot coordinates come from obsm["spatial"] (x, y) or else obs pxl_col_in_fullres /
// pxl_row_in_fullres; microns_per_pixel from the metadata's pixel_size_um_estimated (or
// pixel_size_um_embedded). images["wsi"] / ["patches"] are set when the files exist.
STX_API SpatialSample read_hest(const std::string& folder, const std::string& sample_id,
                                const MatrixOptions& options = {});

}  // namespace stx::data

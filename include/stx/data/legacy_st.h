#pragma once
// Legacy Spatial Transcriptomics (Stahl et al. 2016; Andersson HER2+, ST-Net style): a counts
// TSV(.gz) of spots x genes with "<x>x<y>" row names, a spot selection TSV
// (x y new_x new_y pixel_x pixel_y selected) and the H&E image.
#include <string>

#include <stx/data/matrix.h>
#include <stx/data/sample.h>

namespace stx::data {

// Rows keep the counts file's order; each is joined to the selection file on "<x>x<y>" (a
// missing spot is an error naming it). coords_px = (pixel_x, pixel_y); array_coords = (y, x).
STX_API SpatialSample read_legacy_st(const std::string& counts_path, const std::string& spots_path,
                                     const std::string& image_path = "",
                                     const MatrixOptions& options = {});

}  // namespace stx::data

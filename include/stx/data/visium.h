#pragma once
// 10x Visium Space Ranger output folders (1.x: tissue_positions_list.csv without header;
// >= 2.0: tissue_positions.csv with header), joined to the filtered matrix.
#include <string>

#include <stx/data/matrix.h>
#include <stx/data/sample.h>

namespace stx::data {

// `folder` is the Space Ranger `outs/` folder (or a copy of it): filtered_feature_bc_matrix.h5
// or the filtered_feature_bc_matrix/ MatrixMarket folder, plus spatial/. Every matrix barcode
// must be in the positions file (else the error names it). microns_per_pixel comes from a
// "microns_per_pixel" scale factor when present, else 55 um / spot_diameter_fullres.
STX_API SpatialSample read_visium(const std::string& folder, const MatrixOptions& options = {});

}  // namespace stx::data

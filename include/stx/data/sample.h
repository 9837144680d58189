#pragma once
// A loaded spatial-transcriptomics sample (Visium, legacy ST, HEST): what every reader returns.
#include <ATen/core/Tensor.h>

#include <cmath>
#include <map>
#include <string>
#include <vector>

namespace stx::data {

struct SpatialSample {
  std::string sample_id;
  at::Tensor counts;                       // [N spots, G genes]: sparse CSR or dense
  std::vector<std::string> barcodes;       // N
  std::vector<std::string> gene_names;     // G (symbols where the source has them)
  std::vector<std::string> gene_ids;       // G (Ensembl ids where known, else the names)
  at::Tensor coords_px;                    // [N, 2] float32 spot centres (x, y), full-res pixels
  at::Tensor array_coords;                 // [N, 2] int64 (row, col) on the spot array
  std::string image_path;                  // the sample's main image ("" if none) ...
  double image_scale = 1.0;                // ... whose pixels are coords_px * image_scale
  std::map<std::string, std::string> images;    // "hires", "lowres", "fullres", "wsi" -> path
  std::map<std::string, double> scalefactors;   // image px = full-res px * tissue_<name>_scalef
  double microns_per_pixel = std::nan("");       // of the full-res frame; NaN when unknown
};

}  // namespace stx::data

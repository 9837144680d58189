#pragma once
// Polygons as a ragged array (cell/nucleus segmentations) and their rasterisation into an integer
// label mask, the input of label_pool (per-cell readout of a dense prediction map).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// Polygons as a ragged array: polygon p has vertices[offsets[p] : offsets[p + 1]].
struct Polygons {
  std::vector<std::string> ids;  // one per polygon (the cell_id), in file order
  at::Tensor offsets;            // [P + 1] int64
  at::Tensor vertices;           // [V, 2] float64, (x, y) (microns for Xenium files)
};

// Label mask [height, width] int64: pixel (r, c), whose centre is at
// (origin_x + (c + 0.5) * pixel_size, origin_y + (r + 0.5) * pixel_size), gets label
// labels[p] of the last polygon p whose interior (even-odd rule) contains that centre, or 0.
// `labels` defaults to p + 1 (so 0 stays background). vertices [V, 2] and offsets [P + 1] as in
// Polygons; a polygon's closing edge is implied (a repeated first vertex is harmless) and one
// with fewer than 3 vertices paints nothing.
STX_API at::Tensor rasterize_polygons(const at::Tensor& vertices, const at::Tensor& offsets, int64_t height,
                                      int64_t width, double pixel_size = 1.0, double origin_x = 0.0,
                                      double origin_y = 0.0, const at::Tensor& labels = {});

}  // namespace stx::data

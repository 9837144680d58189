#pragma once
// 10x Xenium cell-level outputs beside the cell-feature matrix (read that with read_10x_h5):
// the cell table (cells.csv[.gz]) and the segmentation polygons (cell_boundaries.csv[.gz],
// nucleus_boundaries.csv[.gz]); rasterize_polygons (stx/data/polygons.h) turns the polygons into
// the integer label mask that label_pool reads out per cell.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>
#include <vector>

#include <stx/data/polygons.h>
#include <stx/macros.h>

namespace stx::data {

// One row per cell, in file order. Xenium coordinates and areas are in microns.
struct CellTable {
  std::vector<std::string> cell_ids;
  at::Tensor centroids_um;       // [N, 2] float64, (x_centroid, y_centroid)
  at::Tensor transcript_counts;  // [N] int64
  at::Tensor cell_area;          // [N] float64, µm²
  at::Tensor nucleus_area;       // [N] float64, µm² (NaN where the file leaves it empty)
};

// Required columns: cell_id, x_centroid, y_centroid, transcript_counts, cell_area, nucleus_area.
STX_API CellTable read_xenium_cells(const std::string& path);

// Columns cell_id, vertex_x, vertex_y; the vertices of one cell must be consecutive rows (a cell
// that reappears later is an error naming it and the line), at least 3 per polygon.
STX_API Polygons read_xenium_polygons(const std::string& path);

}  // namespace stx::data

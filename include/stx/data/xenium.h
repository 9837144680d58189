#pragma once
// 10x Xenium cell-level outputs beside the cell-feature matrix (read that with read_10x_h5):
// the cell table (cells.csv[.gz]), the segmentation polygons (cell_boundaries.csv[.gz],
// nucleus_boundaries.csv[.gz]) and the decoded transcripts (transcripts.csv[.gz]); rasterize_polygons (stx/data/polygons.h) turns the polygons into
// the integer label mask that label_pool reads out per cell.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
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

// One row per decoded transcript, in file order. Coordinates are in microns.
struct XeniumTranscripts {
  at::Tensor transcript_id;           // [T] int64
  at::Tensor cell;                    // [T] int64, index into cell_ids; -1 = not assigned to a cell
  std::vector<std::string> cell_ids;  // the assigned cell ids, in order of first appearance
  at::Tensor overlaps_nucleus;        // [T] bool
  at::Tensor gene;                    // [T] int64, index into genes
  std::vector<std::string> genes;     // the feature_name values (genes and control probes), first appearance
  at::Tensor xyz_um;                  // [T, 3] float64 (x_location, y_location, z_location)
  at::Tensor qv;                      // [T] float64, Phred-scaled decoding quality
  at::Tensor nucleus_distance;        // [T] float64, µm (NaN when the file has no such column)
};

// Required columns: transcript_id, cell_id, overlaps_nucleus (0/1), feature_name, x_location,
// y_location, z_location, qv; nucleus_distance is optional. A cell_id of "UNASSIGNED" (Xenium
// >= 1.3) or "-1" (earlier integer ids) marks a transcript outside every cell.
STX_API XeniumTranscripts read_xenium_transcripts(const std::string& path);

// Transcript counts per cell, int64 [cell_ids.size(), genes.size()]: row c counts the transcripts
// of cell cell_ids[c] (pass the cell table's or the cell-feature matrix's order), column g those of
// feature genes[g] (default: tx.genes). Counted: transcripts with qv >= min_qv (Xenium builds its
// cell-feature matrix from qv >= 20) and, with nucleus_only, overlapping the nucleus. Transcripts of
// a cell or feature outside the lists are not counted (a cropped run lists transcripts of cells cut
// from its cell table). cell_ids and genes must not repeat a value.
STX_API at::Tensor xenium_cell_counts(const XeniumTranscripts& tx, const std::vector<std::string>& cell_ids,
                                      const std::optional<std::vector<std::string>>& genes = std::nullopt,
                                      double min_qv = 20.0, bool nucleus_only = false);

}  // namespace stx::data

#pragma once
// NanoString CosMx SMI outputs: the transcript table (*_tx_file.csv[.gz]) and per-FOV cell counts
// aligned with the FOV's label mask (CellLabels_F*.tif, read with read_label_mask), so that row k
// of the counts is cell k of the mask and of label_pool's output.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// One row per transcript, in file order.
struct Transcripts {
  at::Tensor fov;           // [T] int64
  at::Tensor cell_id;       // [T] int64, 0 = not assigned to a cell
  at::Tensor xy_global_px;  // [T, 2] float64 (x_global_px, y_global_px)
  at::Tensor xy_local_px;   // [T, 2] float64 (x_local_px, y_local_px), within the FOV
  at::Tensor z;             // [T] int64 z slice
  at::Tensor gene;          // [T] int64, index into genes
  std::vector<std::string> genes;  // the `target` names, in order of first appearance
  at::Tensor compartment;   // [T] int64, index into compartments (-1 when the column is absent)
  std::vector<std::string> compartments;  // the `CellComp` values, in order of first appearance
};

// Required columns: fov, cell_ID, x_global_px, y_global_px, x_local_px, y_local_px, z, target;
// CellComp is optional.
STX_API Transcripts read_cosmx_transcripts(const std::string& path);

// Transcript counts per cell of one FOV: int64 [num_cells, genes.size()], row k = cell_ID k (row 0
// = unassigned transcripts). num_cells defaults to the FOV's largest cell_ID + 1; a larger id is
// an error.
STX_API at::Tensor cosmx_cell_counts(const Transcripts& tx, int64_t fov, std::optional<int64_t> num_cells = {});

}  // namespace stx::data

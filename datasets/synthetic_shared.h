#pragma once
// Internal: the pieces the section writer (synthetic.cpp) and the multi-scale writer
// (synthetic_scales.cpp) share: the spot grid, the cell bucket grid, the NB count sampler and
// the small text-file helpers.
#include <ATen/core/Tensor.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include <stx/data/synthetic.h>

#include "datasets/synthetic_rng.h"
#include "datasets/synthetic_tissue.h"

namespace stx::data::detail {

inline constexpr const char* kTissuePositionsHeader =
    "barcode,in_tissue,array_row,array_col,pxl_row_in_fullres,pxl_col_in_fullres\n";

struct Spot {
  std::string barcode;
  int64_t row, col;
  double x_px, y_px;
  bool in_tissue;
};

// The spots of `diameter_um` at `pitch_um` (centre to centre) that fit in the image, on the
// study's grid (o.grid: Visium hex or legacy-ST square), with unique random barcodes from `rng`.
std::vector<Spot> make_grid(const SyntheticOptions& o, const Tissue& t, double diameter_um, double pitch_um, Rng& rng);

// Cells bucketed on a square grid `bucket_px` wide, so every cell within bucket_px of a point
// lies in the 3x3 buckets around it (no scan over all cells per spot).
class CellBuckets {
 public:
  CellBuckets(const std::vector<Cell>& cells, double bucket_px, int64_t image_size_px);
  // f(cell index) for the cells in the 3x3 buckets around (x_px, y_px), rows then columns,
  // each bucket in cell order.
  template <class F>
  void for_each_near(double x_px, double y_px, F&& f) const {
    const auto bx = static_cast<int64_t>(x_px / bucket_px_), by = static_cast<int64_t>(y_px / bucket_px_);
    for (int64_t yy = std::max<int64_t>(by - 1, 0); yy <= std::min(by + 1, n_ - 1); ++yy) {
      for (int64_t xx = std::max<int64_t>(bx - 1, 0); xx <= std::min(bx + 1, n_ - 1); ++xx) {
        for (int64_t c : bucket_[static_cast<size_t>(yy * n_ + xx)]) f(c);
      }
    }
  }

 private:
  double bucket_px_;
  int64_t n_;
  std::vector<std::vector<int64_t>> bucket_;
};

// int32 CSR counts built row by row, each entry ~ NB(mean, theta). A row whose means are all
// zero draws nothing from the RNG, so add_zero_row() equals add_row(zeros) and costs nothing.
class NbCountsBuilder {
 public:
  NbCountsBuilder(int64_t cols, double theta) : cols_(cols), theta_(theta) {}
  void add_row(const std::vector<double>& mean, Rng& rng);
  void add_zero_row() { ptr_.push_back(static_cast<int64_t>(idx_.size())); }
  at::Tensor finish() const;

 private:
  int64_t cols_;
  double theta_;
  std::vector<int64_t> ptr_{0}, idx_;
  std::vector<int32_t> val_;
};

// Counts [rows, cols] ~ NB(means, theta) as int32 CSR.
at::Tensor sample_counts(const std::vector<std::vector<double>>& means, int64_t cols, double theta, Rng& rng);

void write_text(const std::filesystem::path& path, const std::string& text);
std::string fmt(double v);  // "%.3f", the precision of the pixel columns in tissue_positions.csv

}  // namespace stx::data::detail

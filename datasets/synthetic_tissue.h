#pragma once
// Internal: the spatial layout of one synthetic section (domains, cells) and its H&E-like image.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <vector>

#include <stx/data/synthetic.h>

#include "datasets/synthetic_rng.h"

namespace stx::data::detail {

// How a cell type looks: nucleus size/shape/stain and cytoplasm extent/colour.
struct Morphology {
  double nucleus_um, elongation, darkness, cytoplasm_um;
  double nucleus_rgb[3], cytoplasm_rgb[3];
};

struct Cell {
  float x_px, y_px;  // centre in full-resolution pixels
  int64_t type, domain;
  double library;    // expected UMIs of this cell
  double angle;      // nucleus orientation
};

struct Tissue {
  int64_t size_px = 0;
  double um_per_px = 1.0;
  double centre_um = 0, radius_um = 0, harmonics[4] = {0, 0, 0, 0};
  std::vector<double> domain_x, domain_y;  // domain seed points (um)
  double warp[6] = {0, 0, 0, 0, 0, 0};     // low-frequency warp of the domain boundaries
  std::vector<Cell> cells;

  bool inside(double x_um, double y_um) const;
  int64_t domain_at(double x_um, double y_um) const;
};

std::vector<Morphology> make_morphologies(int64_t n_types, Rng& rng);

// Domains, tissue outline and cells; cell types are drawn from each domain's `mixture` row.
Tissue make_tissue(const SyntheticOptions& o, const std::vector<std::vector<double>>& mixture, Rng& rng);

// uint8 [H, W, 3] H&E-like rendering; `nucleus_mask` (if defined, int32 [H, W]) receives
// cell index + 1 under each nucleus.
at::Tensor render_he(const Tissue& t, const std::vector<Morphology>& morph, uint64_t seed, at::Tensor* nucleus_mask);

}  // namespace stx::data::detail

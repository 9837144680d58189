#pragma once
// A synthetic spatial-transcriptomics study with known ground truth, written in the formats
// the readers read (Visium folders, .h5ad), deterministic under a seed.
//
// Per section: smooth tissue domains; cells on a jittered lattice whose types are drawn from
// the domain's type mixture; an H&E-like RGB image where each cell type has its own nucleus
// size, shape, stain and cytoplasm colour; a Visium-hex or legacy-ST-square spot grid; per-spot
// counts ~ NegativeBinomial(mean = capture * sum over cells under the spot of the cell's
// library size * its type profile, dispersion theta). The study also has a single-cell
// reference drawn from the same profiles.
#include <cstdint>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

struct SyntheticOptions {
  uint64_t seed = 0;
  int64_t n_sections = 3;
  int64_t n_genes = 200;
  int64_t n_cell_types = 6;
  int64_t n_domains = 4;
  std::string grid = "hex";          // "hex" (Visium) or "square" (legacy ST)
  double spot_diameter_um = 55.0;
  double spot_pitch_um = 100.0;      // centre-to-centre
  double microns_per_pixel = 1.25;   // of the full-resolution image
  int64_t image_size_px = 2400;      // square image side
  double cell_spacing_um = 12.0;     // mean distance between neighbouring cells
  double umis_per_cell = 300.0;      // mean library size of one cell
  double nb_theta = 10.0;            // NB dispersion: var = mu + mu^2 / theta
  int64_t n_reference_cells = 2000;
  bool nucleus_masks = false;        // also write a nucleus label mask and per-cell counts
  // Ground truth at other scales, per section under section_<i>/scales/ (docs/data.md): square
  // bins tiling the image from pixel (0, 0) (Visium HD-like, e.g. {2, 8, 16}) and spots of
  // other diameters on the study's grid at pitch 2 * diameter (e.g. {100}). Whole microns,
  // no duplicates; empty (the default) writes nothing and leaves every other file unchanged.
  std::vector<double> bin_sizes_um = {};
  std::vector<double> extra_spot_diameters_um = {};
};

// One extra scale of a section: a Visium folder read_visium reads, plus its ground truth.
struct SyntheticScale {
  std::string name;                // "square_008um" or "spot_100um"
  std::string folder;
  std::string ground_truth_path;   // barcodes, cell_region, capture, n_cells
  bool square_bins = false;        // square bin (true) or round spot (false)
  double size_um = 0;              // bin side or spot diameter
  int64_t n_regions = 0;           // in tissue (rows of the matrix)
};

struct SyntheticSection {
  std::string name;                // "section_<i>"
  std::string folder;              // Visium folder (read it with read_visium)
  std::string ground_truth_path;   // HDF5 with the true layout (see docs/data.md)
  int64_t n_spots = 0;             // in tissue (rows of the matrix)
  int64_t n_cells = 0;
  std::vector<SyntheticScale> scales;  // bins first, then extra spots, in option order
};

struct SyntheticStudy {
  std::string out_dir;
  std::string reference_path;      // single-cell reference .h5ad (obs["cell_type"])
  std::string study_json;          // study.json: options, sections, cell types
  std::vector<SyntheticSection> sections;
  std::vector<std::string> cell_types;
  std::vector<std::string> gene_names;
  std::vector<std::string> gene_ids;
};

STX_API SyntheticStudy make_synthetic(const std::string& out_dir, const SyntheticOptions& options = {});

}  // namespace stx::data

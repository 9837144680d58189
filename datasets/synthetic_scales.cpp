// A synthetic section's ground truth at other scales: square bins tiling the image (Visium
// HD-like) and round spots of other diameters, each a Visium folder with its own counts drawn
// from the same cells, plus ground_truth.h5 mapping every cell to its region.
#include "datasets/synthetic_scales.h"

#include <stx/data/matrix.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "datasets/hdf5_io.h"
#include "datasets/synthetic_shared.h"

namespace stx::data::detail {
namespace {

namespace fs = std::filesystem;

// 2 um bins on the default 3000 um image are 2.25M; this leaves room for that and stops a
// typo (0.1 um bins) from allocating gigabytes.
constexpr double kMaxRegionsPerSection = 4'000'000;
// Keeps the scale streams apart from the section's own (seeded with splitmix64(section_seed)).
constexpr uint64_t kScaleStream = 0x5CA1E5B1A5F00D17ull;

constexpr const char* kBinOption = "bin_sizes_um";
constexpr const char* kSpotOption = "extra_spot_diameters_um";

double image_um(const SyntheticOptions& o) { return static_cast<double>(o.image_size_px) * o.microns_per_pixel; }

int64_t bins_per_side(const SyntheticOptions& o, double size_um) {
  return static_cast<int64_t>(std::ceil(image_um(o) / size_um));
}

// Regions one scale puts on the image (in tissue or not), as make_grid / the bin tiling lay them out.
double regions_on_image(const SyntheticOptions& o, bool square, double size_um) {
  if (square) return std::pow(std::ceil(image_um(o) / size_um), 2);
  const double pitch = 2 * size_um, dy = o.grid == "hex" ? pitch * std::sqrt(3.0) / 2 : pitch;
  return (std::floor((image_um(o) - size_um) / dy) + 1) * (std::floor((image_um(o) - size_um) / pitch) + 1);
}

std::string scale_name(bool square, double size_um) {
  char buf[48];
  std::snprintf(buf, sizeof(buf), "%s_%03lldum", square ? "square" : "spot", static_cast<long long>(size_um));
  return buf;
}

void check_sizes(const SyntheticOptions& o, const std::vector<double>& sizes, const char* option, bool square) {
  for (size_t i = 0; i < sizes.size(); ++i) {
    const double s = sizes[i];
    TORCH_CHECK(std::isfinite(s) && s > 0, "make_synthetic: ", option, " must be finite and > 0, got ", s);
    TORCH_CHECK(s == std::round(s), "make_synthetic: ", option, " must be whole microns (the folder is named ",
                square ? "square" : "spot", "_<size>um), got ", s);
    TORCH_CHECK(s <= image_um(o), "make_synthetic: ", option, " = ", s, " is larger than the image (", image_um(o),
                " um = image_size_px * microns_per_pixel)");
    TORCH_CHECK(std::find(sizes.begin(), sizes.begin() + static_cast<std::ptrdiff_t>(i), s) == sizes.begin() + static_cast<std::ptrdiff_t>(i),
                "make_synthetic: ", option, " lists ", s, " more than once");
    const double n = regions_on_image(o, square, s);
    TORCH_CHECK(n <= kMaxRegionsPerSection, "make_synthetic: ", option, " = ", s, " puts ", static_cast<int64_t>(n),
                " regions on each section's ", image_um(o), " um image, more than the limit of ",
                static_cast<int64_t>(kMaxRegionsPerSection), "; use a larger size or a smaller image");
  }
}

// The regions of one scale: those listed in tissue_positions.csv, which of them are matrix rows
// (in tissue, in listed order) and the matrix row of every cell's region (-1: none).
struct Layout {
  std::vector<Spot> listed;
  std::vector<int64_t> matrix_rows;
  std::vector<int64_t> cell_region;
};

// Square bins of `size_um` tiling the image from pixel (0, 0); a bin is in tissue when its
// centre is, and only those are listed (2 um bins would otherwise list millions of glass bins).
// A cell belongs to the bin holding its centre: col = floor(x_px * microns_per_pixel / size_um).
Layout bin_layout(const SyntheticOptions& o, const Tissue& tissue, double size_um) {
  const int64_t n = bins_per_side(o, size_um);
  Layout l;
  std::vector<int32_t> row_of_bin(static_cast<size_t>(n * n), -1);  // at most 4M entries (checked)
  for (int64_t r = 0; r < n; ++r) {
    for (int64_t c = 0; c < n; ++c) {
      const double x_um = (static_cast<double>(c) + 0.5) * size_um, y_um = (static_cast<double>(r) + 0.5) * size_um;
      if (!tissue.inside(x_um, y_um)) continue;
      char bc[64];
      std::snprintf(bc, sizeof(bc), "s_%03lldum_%05lld_%05lld-1", static_cast<long long>(size_um),
                    static_cast<long long>(r), static_cast<long long>(c));
      row_of_bin[static_cast<size_t>(r * n + c)] = static_cast<int32_t>(l.listed.size());
      l.matrix_rows.push_back(static_cast<int64_t>(l.listed.size()));
      l.listed.push_back(Spot{bc, r, c, x_um / o.microns_per_pixel, y_um / o.microns_per_pixel, true});
    }
  }
  l.cell_region.assign(tissue.cells.size(), -1);
  for (size_t i = 0; i < tissue.cells.size(); ++i) {
    const Cell& cell = tissue.cells[i];
    const double c = std::floor(static_cast<double>(cell.x_px) * o.microns_per_pixel / size_um);
    const double r = std::floor(static_cast<double>(cell.y_px) * o.microns_per_pixel / size_um);
    if (c < 0 || r < 0 || c >= static_cast<double>(n) || r >= static_cast<double>(n)) continue;
    l.cell_region[i] = row_of_bin[static_cast<size_t>(static_cast<int64_t>(r) * n + static_cast<int64_t>(c))];
  }
  return l;
}

// Round spots of `diameter_um` at pitch 2 * diameter on the study's grid, every grid spot
// listed as in the main folder; a cell belongs to the spot whose centre is within the radius.
Layout spot_layout(const SyntheticOptions& o, const Tissue& tissue, double diameter_um, Rng& rng) {
  Layout l;
  l.listed = make_grid(o, tissue, diameter_um, 2 * diameter_um, rng);
  l.cell_region.assign(tissue.cells.size(), -1);
  const double r_px = diameter_um / 2 / o.microns_per_pixel;
  const CellBuckets buckets(tissue.cells, 2 * diameter_um / o.microns_per_pixel, o.image_size_px);
  for (size_t i = 0; i < l.listed.size(); ++i) {
    const Spot& s = l.listed[i];
    if (!s.in_tissue) continue;
    const int64_t row = static_cast<int64_t>(l.matrix_rows.size());
    l.matrix_rows.push_back(static_cast<int64_t>(i));
    buckets.for_each_near(s.x_px, s.y_px, [&](int64_t c) {
      const Cell& cell = tissue.cells[static_cast<size_t>(c)];
      const double dx = cell.x_px - s.x_px, dy = cell.y_px - s.y_px;
      if (dx * dx + dy * dy <= r_px * r_px) l.cell_region[static_cast<size_t>(c)] = row;
    });
  }
  return l;
}

void write_positions(const fs::path& path, const std::vector<Spot>& listed) {
  std::string csv = kTissuePositionsHeader;
  csv.reserve(listed.size() * 56 + csv.size());
  for (const Spot& s : listed) {
    csv += s.barcode + "," + (s.in_tissue ? "1," : "0,") + std::to_string(s.row) + "," + std::to_string(s.col) + "," +
           fmt(s.y_px) + "," + fmt(s.x_px) + "\n";
  }
  write_text(path, csv);
}

SyntheticScale write_scale(const SyntheticOptions& o, bool square, double size_um, uint64_t section_seed,
                           const fs::path& section_folder, const Tissue& tissue,
                           const std::vector<std::vector<double>>& profiles, const std::vector<std::string>& gene_names,
                           const std::vector<std::string>& gene_ids) {
  // Bits 0-31: the size, bit 32: the shape, so every scale of a section has its own stream.
  const uint64_t scale_key = static_cast<uint64_t>(size_um) | (square ? 1ull << 32 : 0ull);
  Rng rng(splitmix64(splitmix64(section_seed ^ kScaleStream) ^ scale_key));
  Layout l = square ? bin_layout(o, tissue, size_um) : spot_layout(o, tissue, size_um, rng);
  const int64_t N = static_cast<int64_t>(l.matrix_rows.size()), G = o.n_genes;

  // Cells of each region, grouped by a counting sort on cell_region.
  std::vector<int64_t> start(static_cast<size_t>(N + 1), 0), members(tissue.cells.size());
  for (int64_t r : l.cell_region) {
    if (r >= 0) ++start[static_cast<size_t>(r + 1)];
  }
  for (int64_t r = 0; r < N; ++r) start[static_cast<size_t>(r + 1)] += start[static_cast<size_t>(r)];
  std::vector<int64_t> fill(start.begin(), start.end() - 1);
  for (size_t c = 0; c < l.cell_region.size(); ++c) {
    if (l.cell_region[c] >= 0) members[static_cast<size_t>(fill[static_cast<size_t>(l.cell_region[c])]++)] = static_cast<int64_t>(c);
  }

  // Same law as the main spots: capture ~ LogNormal(0, 0.2^2) per region, counts ~ NB(capture *
  // sum of library * profile, theta). Regions without cells draw nothing and stay empty rows.
  std::vector<double> capture(static_cast<size_t>(N));
  for (auto& v : capture) v = std::exp(0.2 * rng.normal());
  std::vector<int64_t> n_cells(static_cast<size_t>(N));
  NbCountsBuilder counts(G, o.nb_theta);
  std::vector<double> mean(static_cast<size_t>(G));
  for (int64_t r = 0; r < N; ++r) {
    const int64_t b = start[static_cast<size_t>(r)], e = start[static_cast<size_t>(r + 1)];
    n_cells[static_cast<size_t>(r)] = e - b;
    if (b == e) {
      counts.add_zero_row();
      continue;
    }
    std::fill(mean.begin(), mean.end(), 0.0);
    for (int64_t k = b; k < e; ++k) {
      const Cell& cell = tissue.cells[static_cast<size_t>(members[static_cast<size_t>(k)])];
      const auto& p = profiles[static_cast<size_t>(cell.type)];
      for (int64_t g = 0; g < G; ++g) mean[static_cast<size_t>(g)] += cell.library * p[static_cast<size_t>(g)];
    }
    for (auto& v : mean) v *= capture[static_cast<size_t>(r)];
    counts.add_row(mean, rng);
  }

  SyntheticScale sc;
  sc.name = scale_name(square, size_um);
  sc.square_bins = square;
  sc.size_um = size_um;
  sc.n_regions = N;
  const fs::path folder = section_folder / "scales" / sc.name, spatial = folder / "spatial";
  sc.folder = folder.string();
  fs::create_directories(spatial);

  write_positions(spatial / "tissue_positions.csv", l.listed);
  FeatureMatrix fm;
  fm.counts = counts.finish();
  fm.barcodes.reserve(static_cast<size_t>(N));
  // Moved, not copied: 2 um bins have a million barcodes and the listing is written already.
  for (int64_t i : l.matrix_rows) fm.barcodes.push_back(std::move(l.listed[static_cast<size_t>(i)].barcode));
  l.listed = {};
  fm.features.ids = gene_ids;
  fm.features.names = gene_names;
  write_10x_h5((folder / "filtered_feature_bc_matrix.h5").string(), fm);
  // parse_json_scalars keeps numbers only, so the shape is the number square_bins (1 or 0).
  nlohmann::json sf = {{"tissue_hires_scalef", 1.0},
                       {"microns_per_pixel", o.microns_per_pixel},
                       {"spot_diameter_fullres", size_um / o.microns_per_pixel},
                       {square ? "bin_size_um" : "spot_diameter_um", size_um},
                       {"square_bins", square ? 1 : 0}};
  if (!square) sf["spot_pitch_um"] = 2 * size_um;
  write_text(spatial / "scalefactors_json.json", sf.dump(2));

  sc.ground_truth_path = (folder / "ground_truth.h5").string();
  auto guard = h5::lock();
  const h5::Node gt = h5::create_file(sc.ground_truth_path);
  // Fixed-length like 10x's own barcodes: a million variable-length strings would double the file.
  h5::write_strings(gt, "barcodes", fm.barcodes, /*variable_length=*/false);
  h5::write_array(gt, "cell_region", at::tensor(l.cell_region, at::kLong));
  h5::write_array(gt, "capture", at::tensor(capture, at::kDouble));
  h5::write_array(gt, "n_cells", at::tensor(n_cells, at::kLong));
  return sc;
}

}  // namespace

void check_scale_options(const SyntheticOptions& o) {
  check_sizes(o, o.bin_sizes_um, kBinOption, /*square=*/true);
  check_sizes(o, o.extra_spot_diameters_um, kSpotOption, /*square=*/false);
}

std::vector<SyntheticScale> write_scales(const SyntheticOptions& o, uint64_t section_seed, const fs::path& section_folder,
                                         const Tissue& tissue, const std::vector<std::vector<double>>& profiles,
                                         const std::vector<std::string>& gene_names,
                                         const std::vector<std::string>& gene_ids) {
  std::vector<SyntheticScale> scales;
  for (double s : o.bin_sizes_um) {
    scales.push_back(write_scale(o, true, s, section_seed, section_folder, tissue, profiles, gene_names, gene_ids));
  }
  for (double d : o.extra_spot_diameters_um) {
    scales.push_back(write_scale(o, false, d, section_seed, section_folder, tissue, profiles, gene_names, gene_ids));
  }
  return scales;
}

}  // namespace stx::data::detail

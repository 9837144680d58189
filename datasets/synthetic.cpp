// Synthetic study: profiles, sections (layout + image + spots + counts) and the files written.
#include <stx/data/synthetic.h>

#include <stx/data/h5ad.h>
#include <stx/data/image.h>
#include <stx/data/matrix.h>

#include <ATen/ATen.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "datasets/hdf5_io.h"
#include "datasets/synthetic_scales.h"
#include "datasets/synthetic_shared.h"
#include "datasets/synthetic_tissue.h"

namespace stx::data {
namespace {

namespace fs = std::filesystem;
using detail::Rng;
using detail::Spot;
using detail::fmt;
using detail::make_grid;
using detail::sample_counts;
using detail::write_text;

constexpr const char* kTypeNames[] = {"epithelial", "fibroblast", "lymphocyte", "macrophage",
                                      "endothelial", "plasma", "smooth_muscle", "adipocyte"};

void check_options(const SyntheticOptions& o) {
  TORCH_CHECK(o.n_sections >= 1, "make_synthetic: n_sections must be >= 1, got ", o.n_sections);
  TORCH_CHECK(o.n_genes >= 2, "make_synthetic: n_genes must be >= 2, got ", o.n_genes);
  TORCH_CHECK(o.n_cell_types >= 1, "make_synthetic: n_cell_types must be >= 1, got ", o.n_cell_types);
  TORCH_CHECK(o.n_domains >= 1 && o.n_domains <= 100, "make_synthetic: n_domains must lie in [1, 100], got ", o.n_domains);
  TORCH_CHECK(o.grid == "hex" || o.grid == "square", "make_synthetic: grid must be 'hex' or 'square', got '", o.grid, "'");
  TORCH_CHECK(o.spot_diameter_um > 0 && o.spot_pitch_um >= o.spot_diameter_um, "make_synthetic: need 0 < spot_diameter_um"
              " <= spot_pitch_um, got ", o.spot_diameter_um, " and ", o.spot_pitch_um);
  TORCH_CHECK(o.microns_per_pixel > 0 && o.cell_spacing_um > 0 && o.umis_per_cell > 0 && o.nb_theta > 0,
              "make_synthetic: microns_per_pixel, cell_spacing_um, umis_per_cell and nb_theta must be > 0");
  TORCH_CHECK(o.image_size_px >= 64 && o.image_size_px <= 20000, "make_synthetic: image_size_px must lie in [64, 20000], got ",
              o.image_size_px);
  TORCH_CHECK(o.n_reference_cells >= 0, "make_synthetic: n_reference_cells must be >= 0");
  detail::check_scale_options(o);
}

// Type profiles [T, G] (rows sum to 1): shared baseline plus type-specific marker genes.
std::vector<std::vector<double>> make_profiles(const SyntheticOptions& o, Rng& rng) {
  std::vector<double> base(o.n_genes);
  for (auto& b : base) b = 1.2 * rng.normal();
  std::vector<std::vector<double>> prof(o.n_cell_types, std::vector<double>(o.n_genes));
  std::vector<int64_t> marker_of(o.n_genes);
  for (auto& m : marker_of) m = rng.uniform() < 0.6 ? rng.below(o.n_cell_types) : -1;
  for (int64_t t = 0; t < o.n_cell_types; ++t) {
    double sum = 0;
    for (int64_t g = 0; g < o.n_genes; ++g) {
      const double boost = marker_of[g] == t ? rng.uniform(1.5, 3.0) : 0.0;
      prof[t][g] = std::exp(base[g] + boost + 0.3 * rng.normal());
      sum += prof[t][g];
    }
    for (auto& v : prof[t]) v /= sum;
  }
  return prof;
}

// Each domain is dominated by one or two cell types.
std::vector<std::vector<double>> make_mixtures(const SyntheticOptions& o, Rng& rng) {
  std::vector<std::vector<double>> mix(o.n_domains, std::vector<double>(o.n_cell_types));
  for (int64_t d = 0; d < o.n_domains; ++d) {
    double sum = 0;
    for (int64_t t = 0; t < o.n_cell_types; ++t) {
      mix[d][t] = rng.gamma(0.4) + (t == d % o.n_cell_types ? 2.5 : 0.0);
      sum += mix[d][t];
    }
    for (auto& v : mix[d]) v /= sum;
  }
  return mix;
}

at::Tensor to_tensor(const std::vector<std::vector<double>>& rows, at::ScalarType t) {
  const int64_t n = static_cast<int64_t>(rows.size()), m = rows.empty() ? 0 : static_cast<int64_t>(rows[0].size());
  std::vector<double> flat;
  flat.reserve(static_cast<size_t>(n * m));
  for (const auto& r : rows) flat.insert(flat.end(), r.begin(), r.end());
  return at::tensor(flat, at::kDouble).view({n, m}).to(t);
}

SyntheticSection make_section(const SyntheticOptions& o, int64_t index, const fs::path& dir,
                              const std::vector<std::vector<double>>& prof, const std::vector<std::vector<double>>& mix,
                              const std::vector<detail::Morphology>& morph, const std::vector<std::string>& gene_names,
                              const std::vector<std::string>& gene_ids, const std::vector<std::string>& type_names) {
  const uint64_t section_seed = o.seed * 1000003ull + static_cast<uint64_t>(index) + 1;
  Rng rng(detail::splitmix64(section_seed));
  const detail::Tissue tissue = detail::make_tissue(o, mix, rng);
  const std::vector<Spot> grid = make_grid(o, tissue, o.spot_diameter_um, o.spot_pitch_um, rng);
  const int64_t T = o.n_cell_types, G = o.n_genes;

  // Cells under each in-tissue spot, through a bucket grid one pitch wide.
  const double r_px = o.spot_diameter_um / 2 / o.microns_per_pixel;
  const detail::CellBuckets buckets(tissue.cells, o.spot_pitch_um / o.microns_per_pixel, o.image_size_px);
  std::vector<int64_t> cell_spot(tissue.cells.size(), -1);
  std::vector<const Spot*> kept;
  std::vector<std::vector<double>> frac, mu;
  std::vector<int64_t> n_cells, domain;
  for (const Spot& s : grid) {
    if (!s.in_tissue) continue;
    const int64_t spot = static_cast<int64_t>(kept.size());
    std::vector<double> f(T, 0.0), m(G, 0.0);
    int64_t count = 0;
    buckets.for_each_near(s.x_px, s.y_px, [&](int64_t c) {
      const detail::Cell& cell = tissue.cells[c];
      const double dx = cell.x_px - s.x_px, dy = cell.y_px - s.y_px;
      if (dx * dx + dy * dy > r_px * r_px) return;
      cell_spot[c] = spot;
      f[cell.type] += 1;
      ++count;
      for (int64_t g = 0; g < G; ++g) m[g] += cell.library * prof[cell.type][g];
    });
    const double capture = std::exp(0.2 * rng.normal());
    for (auto& v : m) v *= capture;
    for (auto& v : f) v = count ? v / static_cast<double>(count) : 0.0;
    kept.push_back(&s);
    frac.push_back(std::move(f));
    mu.push_back(std::move(m));
    n_cells.push_back(count);
    domain.push_back(tissue.domain_at(s.x_px * o.microns_per_pixel, s.y_px * o.microns_per_pixel));
  }
  const at::Tensor counts = sample_counts(mu, o.n_genes, o.nb_theta, rng);

  SyntheticSection sec;
  sec.name = "section_" + std::to_string(index);
  sec.folder = (dir / sec.name).string();
  sec.n_spots = static_cast<int64_t>(kept.size());
  sec.n_cells = static_cast<int64_t>(tissue.cells.size());
  const fs::path folder(sec.folder), spatial = folder / "spatial";
  fs::create_directories(spatial);

  FeatureMatrix fm;
  fm.counts = counts;
  for (const Spot* s : kept) fm.barcodes.push_back(s->barcode);
  fm.features.ids = gene_ids;
  fm.features.names = gene_names;
  write_10x_h5((folder / "filtered_feature_bc_matrix.h5").string(), fm);

  std::string csv = detail::kTissuePositionsHeader;
  for (const Spot& s : grid) {
    csv += s.barcode + "," + (s.in_tissue ? "1," : "0,") + std::to_string(s.row) + "," + std::to_string(s.col) + "," +
           fmt(s.y_px) + "," + fmt(s.x_px) + "\n";
  }
  write_text(spatial / "tissue_positions.csv", csv);
  nlohmann::json sf = {{"tissue_hires_scalef", 1.0},
                       {"tissue_lowres_scalef", 0.25},
                       {"spot_diameter_fullres", o.spot_diameter_um / o.microns_per_pixel},
                       {"fiducial_diameter_fullres", 1.6 * o.spot_diameter_um / o.microns_per_pixel},
                       {"microns_per_pixel", o.microns_per_pixel}};
  write_text(spatial / "scalefactors_json.json", sf.dump(2));

  at::Tensor mask;
  const at::Tensor img = detail::render_he(tissue, morph, o.seed * 7919ull + static_cast<uint64_t>(index),
                                           o.nucleus_masks ? &mask : nullptr);
  write_png((spatial / "tissue_hires_image.png").string(), img);
  const at::Tensor low = at::avg_pool2d(img.permute({2, 0, 1}).unsqueeze(0).to(at::kFloat), 4)
                             .squeeze(0).permute({1, 2, 0}).round().to(at::kByte).contiguous();
  write_png((spatial / "tissue_lowres_image.png").string(), low);

  // Ground truth, in the matrix's row order.
  sec.ground_truth_path = (folder / "ground_truth.h5").string();
  const int64_t C = static_cast<int64_t>(tissue.cells.size());
  std::vector<float> xy;
  std::vector<int64_t> types, domains;
  std::vector<double> libs;
  for (const detail::Cell& c : tissue.cells) {
    xy.push_back(c.x_px);
    xy.push_back(c.y_px);
    types.push_back(c.type);
    domains.push_back(c.domain);
    libs.push_back(c.library);
  }
  const at::Tensor cell_xy = at::tensor(xy, at::kFloat).view({C, 2}), cell_type = at::tensor(types, at::kLong),
                   cell_domain = at::tensor(domains, at::kLong), cell_lib = at::tensor(libs, at::kDouble);
  {  // closed before the scales are written
    auto guard = h5::lock();
    const h5::Node gt = h5::create_file(sec.ground_truth_path);
    h5::write_strings(gt, "barcodes", fm.barcodes);
    h5::write_strings(gt, "cell_types", type_names);
    h5::write_strings(gt, "gene_names", gene_names);
    h5::write_array(gt, "spot_cell_type_fraction", to_tensor(frac, at::kFloat));
    h5::write_array(gt, "spot_expected_counts", to_tensor(mu, at::kFloat));
    h5::write_array(gt, "spot_n_cells", at::tensor(n_cells, at::kLong));
    h5::write_array(gt, "spot_domain", at::tensor(domain, at::kLong));
    h5::write_array(gt, "profiles", to_tensor(prof, at::kDouble));
    h5::write_array(gt, "cell_xy_px", cell_xy);
    h5::write_array(gt, "cell_type", cell_type);
    h5::write_array(gt, "cell_domain", cell_domain);
    h5::write_array(gt, "cell_library", cell_lib);
    h5::write_array(gt, "cell_spot", at::tensor(cell_spot, at::kLong));
    if (o.nucleus_masks) {
      h5::write_array(gt, "nucleus_mask", mask);
      // Per-cell counts for the cells under spots (independent draws from each cell's mean).
      std::vector<int64_t> ids;
      std::vector<std::vector<double>> cell_mu;
      for (int64_t c = 0; c < C; ++c) {
        if (cell_spot[c] < 0) continue;
        ids.push_back(c);
        std::vector<double> m(G);
        for (int64_t g = 0; g < G; ++g) m[g] = tissue.cells[c].library * prof[tissue.cells[c].type][g];
        cell_mu.push_back(std::move(m));
      }
      const at::Tensor cc = sample_counts(cell_mu, o.n_genes, o.nb_theta, rng);
      const h5::Node g = h5::create_group(gt, "cell_counts");
      h5::write_array(g, "cells", at::tensor(ids, at::kLong));
      h5::write_array(g, "data", cc.values());
      h5::write_array(g, "indices", cc.col_indices());
      h5::write_array(g, "indptr", cc.crow_indices());
      h5::write_array(g, "shape", at::tensor({cc.size(0), cc.size(1)}, at::kLong));
    }
  }
  // Other scales last, from their own RNG streams, so the files above do not depend on them.
  sec.scales = detail::write_scales(o, section_seed, folder, tissue, prof, gene_names, gene_ids);
  return sec;
}

}  // namespace

SyntheticStudy make_synthetic(const std::string& out_dir, const SyntheticOptions& o) {
  check_options(o);
  std::error_code ec;
  fs::create_directories(out_dir, ec);
  TORCH_CHECK(fs::is_directory(out_dir, ec), "make_synthetic: cannot create the output folder ", out_dir);
  Rng rng(detail::splitmix64(o.seed));
  SyntheticStudy study;
  study.out_dir = out_dir;
  for (int64_t t = 0; t < o.n_cell_types; ++t) {
    study.cell_types.push_back(t < 8 ? std::string(kTypeNames[t]) : "type_" + std::to_string(t));
  }
  for (int64_t g = 0; g < o.n_genes; ++g) {
    char name[32], id[32];
    std::snprintf(name, sizeof(name), "SYN%04lld", static_cast<long long>(g));
    std::snprintf(id, sizeof(id), "ENSSYN%011lld", static_cast<long long>(g));
    study.gene_names.push_back(name);
    study.gene_ids.push_back(id);
  }
  const auto prof = make_profiles(o, rng);
  const auto mix = make_mixtures(o, rng);
  const auto morph = detail::make_morphologies(o.n_cell_types, rng);
  for (int64_t i = 0; i < o.n_sections; ++i) {
    study.sections.push_back(make_section(o, i, out_dir, prof, mix, morph, study.gene_names, study.gene_ids, study.cell_types));
  }

  // Single-cell reference from the same profiles, balanced over the types.
  AnnData ref;
  std::vector<std::vector<double>> mu;
  std::vector<int64_t> types;
  for (int64_t c = 0; c < o.n_reference_cells; ++c) {
    const int64_t t = c % o.n_cell_types;
    const double lib = o.umis_per_cell * std::exp(0.3 * rng.normal());
    std::vector<double> m(o.n_genes);
    for (int64_t g = 0; g < o.n_genes; ++g) m[g] = lib * prof[t][g];
    mu.push_back(std::move(m));
    types.push_back(t);
    char name[32];
    std::snprintf(name, sizeof(name), "cell_%06lld", static_cast<long long>(c));
    ref.obs.index.push_back(name);
  }
  const at::Tensor rc = sample_counts(mu, o.n_genes, o.nb_theta, rng);
  ref.X = at::sparse_csr_tensor(rc.crow_indices(), rc.col_indices(), rc.values().to(at::kFloat), rc.sizes(),
                                at::TensorOptions().dtype(at::kFloat).layout(at::kSparseCsr));
  Column ct;
  ct.kind = Column::Kind::Categorical;
  ct.values = at::tensor(types, at::kLong);
  ct.strings = study.cell_types;
  ref.obs.columns["cell_type"] = ct;
  ref.var.index = study.gene_names;
  Column ids;
  ids.kind = Column::Kind::String;
  ids.strings = study.gene_ids;
  ref.var.columns["gene_ids"] = ids;
  study.reference_path = (fs::path(out_dir) / "reference.h5ad").string();
  write_h5ad(study.reference_path, ref);

  nlohmann::json j;
  j["seed"] = o.seed;
  j["grid"] = o.grid;
  j["spot_diameter_um"] = o.spot_diameter_um;
  j["spot_pitch_um"] = o.spot_pitch_um;
  j["microns_per_pixel"] = o.microns_per_pixel;
  j["image_size_px"] = o.image_size_px;
  j["nb_theta"] = o.nb_theta;
  j["cell_types"] = study.cell_types;
  j["reference"] = "reference.h5ad";
  j["domain_cell_type_mixture"] = mix;
  // The scale keys are written only when asked for, so a default study.json is unchanged.
  if (!o.bin_sizes_um.empty()) j["bin_sizes_um"] = o.bin_sizes_um;
  if (!o.extra_spot_diameters_um.empty()) j["extra_spot_diameters_um"] = o.extra_spot_diameters_um;
  for (const auto& s : study.sections) {
    nlohmann::json sec = {{"name", s.name}, {"n_spots", s.n_spots}, {"n_cells", s.n_cells}};
    for (const auto& sc : s.scales) {
      sec["scales"][sc.name] = s.name + "/scales/" + sc.name;  // relative to out_dir, like "reference"
    }
    j["sections"].push_back(std::move(sec));
  }
  study.study_json = (fs::path(out_dir) / "study.json").string();
  write_text(study.study_json, j.dump(2));
  return study;
}

}  // namespace stx::data

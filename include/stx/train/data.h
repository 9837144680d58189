#pragma once
// Sections for training: every data kind the readers support, cut into spot patches, and the gene
// panel and regression targets built from them. Used by both front ends.
#include <ATen/core/Tensor.h>

#include <cmath>
#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/train/config.h>

namespace stx::train {

struct Section {
  std::string name;
  at::Tensor patches;  // [N, 3, S, S] uint8
  at::Tensor counts;   // [N, G_all] float32 dense raw counts
  at::Tensor coords;   // [N, 2] float64 (x, y) full-resolution pixels
  std::vector<std::string> gene_names;
  std::string image_path;
  double mpp = 0;          // um per full-resolution pixel
  double image_scale = 1;  // image pixels = coords * image_scale
  std::string folder;      // the section's own folder, when it has one (Visium / synthetic), else ""
  double spot_diameter_um = std::nan("");  // of its spots, when known (scale factors, or legacy ST's 100 um)
};

struct DataInfo {
  std::string kind;       // synthetic | synthetic_study | visium | hest | legacy_st
  std::string path;
  std::string reference;  // a single-cell reference (.h5ad) that came with the data, or ""
};

// "visium" (spatial/), "hest" (st/*.h5ad), "legacy_st" (ST-cnts/ + ST-spotfiles/ + ST-imgs/) or
// "synthetic_study" (study.json); anything else is an error saying what is expected.
STX_API std::string detect_kind(const std::string& folder);

// `data` "" generates a synthetic study under work_dir/synthetic (config synthetic_*, seed).
STX_API std::vector<Section> load_sections(const std::string& data, const Config& config, const std::string& work_dir,
                                           DataInfo* info = nullptr);
// Comma-separated names -> those sections, in that order; an unknown name is an error listing the known.
STX_API std::vector<Section> pick_sections(const std::vector<Section>& sections, const std::string& names,
                                           const std::string& flag = "--sections");

// A gene list: .npy (1-D array of unicode or byte strings) or text, one name per line ('#' comments).
STX_API std::vector<std::string> read_gene_list(const std::string& path);
// The panel: config genes_file (genes every section has, in the file's order) or the top_genes
// genes by mean log1p-normalised expression over `sections` among genes all share (ties by name).
// `rule` receives a one-line description.
STX_API std::vector<std::string> choose_genes(const std::vector<Section>& sections, const Config& config,
                                              std::string* rule = nullptr);
// log1p(counts / library size * 1e4) of the panel genes: [N, G] float32.
STX_API at::Tensor section_targets(const Section& section, const std::vector<std::string>& genes);

// Sections concatenated: patches [N,3,S,S] uint8, targets [N,G], coords [N,2], section index [N].
struct Pool {
  at::Tensor patches, targets, coords, section_id;
  std::vector<std::string> names;
};
STX_API Pool make_pool(const std::vector<Section>& sections, const std::vector<std::string>& genes);

}  // namespace stx::train

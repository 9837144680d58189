#include <stx/train/data.h>

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include <stx/data/hest.h>
#include <stx/data/legacy_st.h>
#include <stx/data/patch.h>
#include <stx/data/preprocess.h>
#include <stx/data/slide.h>
#include <stx/data/synthetic.h>
#include <stx/data/visium.h>

namespace stx::train {
namespace fs = std::filesystem;
namespace {

bool has_glob(const fs::path& dir, const std::string& ext) {
  if (!fs::is_directory(dir)) return false;
  for (const auto& e : fs::directory_iterator(dir)) {
    if (e.path().extension() == ext) return true;
  }
  return false;
}

std::vector<fs::path> sorted_entries(const fs::path& dir) {
  std::vector<fs::path> out;
  if (!fs::is_directory(dir)) return out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path());
  std::sort(out.begin(), out.end());
  return out;
}

// um/px from the spot pitch when the image has no resolution: pitch / median nearest-neighbour distance.
double spacing_mpp(const at::Tensor& coords, double pitch_um) {
  auto c = coords.to(at::kDouble);
  auto d = at::cdist(c, c);
  d.fill_diagonal_(std::numeric_limits<double>::infinity());
  // torch.median of an even count is the lower of the two middle values, as Python's pipeline used.
  return pitch_um / std::get<0>(d.min(1)).median().item<double>();
}

Section section_from_sample(const std::string& name, const stx::data::SpatialSample& sample, const Config& config,
                            double mpp = std::nan("")) {
  if (std::isnan(mpp)) mpp = sample.microns_per_pixel;
  TORCH_CHECK(std::isfinite(mpp), "section ", name, ": the image has no um/px and none could be derived");
  TORCH_CHECK(!sample.image_path.empty(), "section ", name, ": no image to cut spot patches from");
  const double scale = sample.image_scale;
  stx::data::SlideReader slide(sample.image_path, mpp / scale);
  Section s;
  s.name = name;
  s.coords = sample.coords_px.to(at::kDouble);
  const int64_t size = config.integer("patch_size");
  s.patches = stx::data::extract_patches(slide, s.coords * scale, config.number("patch_um") / size, size);
  s.counts = (sample.counts.is_sparse_csr() ? sample.counts.to_dense() : sample.counts).to(at::kFloat);
  s.gene_names = sample.gene_names;
  s.image_path = sample.image_path;
  s.mpp = mpp;
  s.image_scale = scale;
  if (auto d = sample.scalefactors.find("spot_diameter_fullres"); d != sample.scalefactors.end() && d->second > 0) {
    s.spot_diameter_um = d->second * mpp;
  }
  return s;
}

std::vector<Section> load_legacy_st(const fs::path& folder, const Config& config) {
  std::vector<Section> sections;
  stx::data::MatrixOptions dense;
  dense.dense = true;
  for (const auto& counts : sorted_entries(folder / "ST-cnts")) {
    const auto file = counts.filename().string();
    if (file.find(".tsv") == std::string::npos) continue;
    const auto name = file.substr(0, file.find('.'));
    const auto spots = folder / "ST-spotfiles" / (name + "_selection.tsv");
    std::vector<fs::path> images;
    for (const auto& patient : sorted_entries(folder / "ST-imgs")) {
      for (const auto& img : sorted_entries(patient / name)) {
        if (img.extension() == ".jpg") images.push_back(img);
      }
    }
    std::sort(images.begin(), images.end());
    TORCH_CHECK(fs::is_regular_file(spots) && !images.empty(), "--data ", folder.string(), ": section ", name,
                " needs ", spots.string(), " and ST-imgs/<patient>/", name, "/*.jpg");
    auto sample = stx::data::read_legacy_st(counts.string(), spots.string(), images.front().string(), dense);
    double mpp = sample.microns_per_pixel;
    if (!std::isfinite(mpp)) mpp = spacing_mpp(sample.coords_px, 200.0);  // legacy ST: 200 um centre to centre
    sections.push_back(section_from_sample(name, sample, config, mpp));
    sections.back().spot_diameter_um = 100.0;  // legacy ST spots are 100 um across
  }
  TORCH_CHECK(!sections.empty(), "--data ", folder.string(), ": no ST-cnts/<section>.tsv.gz files");
  return sections;
}

std::vector<std::string> read_npy_strings(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string where = "gene list " + path;
  TORCH_CHECK(bytes.size() >= 10 && bytes.compare(0, 6, "\x93NUMPY") == 0, where, ": not a .npy file");
  const int major = static_cast<unsigned char>(bytes[6]);
  const size_t len_bytes = major == 1 ? 2 : 4;
  TORCH_CHECK(bytes.size() >= 8 + len_bytes, where, ": truncated header");
  size_t header_len = 0;
  for (size_t i = 0; i < len_bytes; ++i) header_len |= size_t(static_cast<unsigned char>(bytes[8 + i])) << (8 * i);
  const size_t data_start = 8 + len_bytes + header_len;
  TORCH_CHECK(data_start <= bytes.size(), where, ": truncated header");
  const std::string header = bytes.substr(8 + len_bytes, header_len);
  const auto field = [&](const std::string& key) {
    auto p = header.find("'" + key + "'");
    TORCH_CHECK(p != std::string::npos, where, ": header lacks '", key, "'");
    p = header.find(':', p);
    return header.substr(p + 1);
  };
  auto descr = field("descr");
  descr = descr.substr(descr.find('\'') + 1);
  descr = descr.substr(0, descr.find('\''));
  TORCH_CHECK(field("fortran_order").find("False") < field("fortran_order").find(','), where,
              ": Fortran-ordered arrays are not supported");
  auto shape = field("shape");
  shape = shape.substr(shape.find('(') + 1, shape.find(')') - shape.find('(') - 1);
  std::stringstream dims(shape);
  int64_t n = 1, ndim = 0;
  for (std::string d; std::getline(dims, d, ',');) {
    if (d.find_first_not_of(' ') == std::string::npos) continue;
    n *= std::stoll(d);
    ++ndim;
  }
  TORCH_CHECK(ndim == 1, where, ": expected a 1-D array of gene names, got shape (", shape, ")");
  TORCH_CHECK(descr.size() > 2 && (descr.substr(0, 2) == "<U" || descr.substr(0, 2) == "|S"), where,
              ": expected an array of strings (<U or |S), got dtype ", descr);
  const bool unicode = descr[0] == '<';
  const int64_t chars = std::stoll(descr.substr(2));
  const int64_t item = unicode ? 4 * chars : chars;
  TORCH_CHECK(n >= 0 && chars > 0 && static_cast<uint64_t>(n) * item <= bytes.size() - data_start, where,
              ": the file is shorter than its header says");
  std::vector<std::string> names;
  for (int64_t i = 0; i < n; ++i) {
    const char* p = bytes.data() + data_start + i * item;
    std::string s;
    for (int64_t c = 0; c < chars; ++c) {
      uint32_t cp = 0;
      if (unicode) {
        for (int b = 0; b < 4; ++b) cp |= uint32_t(static_cast<unsigned char>(p[4 * c + b])) << (8 * b);
      } else {
        cp = static_cast<unsigned char>(p[c]);
      }
      if (cp == 0) break;
      if (cp < 0x80) {
        s += static_cast<char>(cp);
      } else if (cp < 0x800) {
        s += static_cast<char>(0xC0 | (cp >> 6));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else if (cp < 0x10000) {
        s += static_cast<char>(0xE0 | (cp >> 12));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      } else {
        TORCH_CHECK(cp < 0x110000, where, ": invalid code point");
        s += static_cast<char>(0xF0 | (cp >> 18));
        s += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
        s += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
        s += static_cast<char>(0x80 | (cp & 0x3F));
      }
    }
    names.push_back(s);
  }
  return names;
}

}  // namespace

std::string detect_kind(const std::string& folder_in) {
  const fs::path folder(folder_in);
  TORCH_CHECK(fs::is_directory(folder), "--data ", folder_in, " is not a folder");
  if (fs::is_regular_file(folder / "study.json")) return "synthetic_study";
  if (fs::is_directory(folder / "ST-cnts") && fs::is_directory(folder / "ST-spotfiles")) return "legacy_st";
  if (has_glob(folder / "st", ".h5ad")) return "hest";
  if (fs::is_directory(folder / "spatial")) return "visium";
  TORCH_CHECK(false, "--data ", folder_in,
              ": not a Visium folder (spatial/ + filtered_feature_bc_matrix), a HEST-1k sample (st/*.h5ad), a "
              "legacy-ST folder (ST-cnts/, ST-spotfiles/, ST-imgs/) or a synthetic study (study.json)");
}

std::vector<Section> load_sections(const std::string& data, const Config& config, const std::string& work_dir,
                                   DataInfo* info) {
  stx::data::MatrixOptions dense;
  dense.dense = true;
  std::vector<Section> sections;
  DataInfo d;
  if (data.empty()) {
    stx::data::SyntheticOptions o;
    o.seed = static_cast<uint64_t>(config.integer("seed"));
    o.n_sections = config.integer("synthetic_sections");
    o.image_size_px = config.integer("synthetic_image_px");
    const auto dir = (fs::path(work_dir) / "synthetic").string();
    auto study = stx::data::make_synthetic(dir, o);
    for (const auto& s : study.sections) {
      sections.push_back(section_from_sample(s.name, stx::data::read_visium(s.folder, dense), config));
      sections.back().folder = s.folder;
    }
    d = {"synthetic", dir, study.reference_path};
  } else {
    const fs::path folder(data);
    d.kind = detect_kind(data);
    d.path = data;
    if (d.kind == "synthetic_study") {
      for (const auto& entry : sorted_entries(folder)) {
        if (fs::is_directory(entry / "spatial")) {
          sections.push_back(section_from_sample(entry.filename().string(),
                                                 stx::data::read_visium(entry.string(), dense), config));
          sections.back().folder = entry.string();
        }
      }
      if (fs::is_regular_file(folder / "reference.h5ad")) d.reference = (folder / "reference.h5ad").string();
    } else if (d.kind == "legacy_st") {
      sections = load_legacy_st(folder, config);
    } else if (d.kind == "visium") {
      auto name = data;
      while (name.size() > 1 && name.back() == '/') name.pop_back();
      sections.push_back(section_from_sample(fs::path(name).filename().string(), stx::data::read_visium(data, dense),
                                             config));
      sections.back().folder = data;
    } else {
      for (const auto& h5ad : sorted_entries(folder / "st")) {
        if (h5ad.extension() != ".h5ad") continue;
        const auto id = h5ad.stem().string();
        sections.push_back(section_from_sample(id, stx::data::read_hest(data, id, dense), config));
      }
    }
  }
  TORCH_CHECK(!sections.empty(), "--data ", data, ": no sections found");
  if (info) *info = d;
  return sections;
}

std::vector<Section> pick_sections(const std::vector<Section>& sections, const std::string& names,
                                   const std::string& flag) {
  std::vector<Section> chosen;
  std::stringstream ss(names);
  for (std::string name; std::getline(ss, name, ',');) {
    auto it = std::find_if(sections.begin(), sections.end(), [&](const Section& s) { return s.name == name; });
    if (it == sections.end()) {
      std::string known;
      for (const auto& s : sections) known += (known.empty() ? "" : ", ") + s.name;
      TORCH_CHECK(false, flag, ": '", name, "' is not one of the data's sections [", known, "]");
    }
    chosen.push_back(*it);
  }
  TORCH_CHECK(!chosen.empty(), flag, ": no section named");
  return chosen;
}

std::vector<std::string> read_gene_list(const std::string& path) {
  TORCH_CHECK(fs::is_regular_file(path), "--genes ", path, " does not exist");
  if (fs::path(path).extension() == ".npy") return read_npy_strings(path);
  std::ifstream in(path);
  std::vector<std::string> genes;
  for (std::string line; std::getline(in, line);) {
    const auto b = line.find_first_not_of(" \t\r");
    const auto e = line.find_last_not_of(" \t\r");
    if (b == std::string::npos || line[b] == '#') continue;
    genes.push_back(line.substr(b, e - b + 1));
  }
  return genes;
}

std::vector<std::string> choose_genes(const std::vector<Section>& sections, const Config& config, std::string* rule) {
  TORCH_CHECK(!sections.empty(), "choose_genes: no sections");
  std::set<std::string> common(sections[0].gene_names.begin(), sections[0].gene_names.end());
  for (size_t i = 1; i < sections.size(); ++i) {
    std::set<std::string> next;
    for (const auto& g : sections[i].gene_names) {
      if (common.count(g)) next.insert(g);
    }
    common = std::move(next);
  }
  const auto file = config.string("genes_file");
  if (!file.empty()) {
    const auto wanted = read_gene_list(file);
    std::vector<std::string> present;
    for (const auto& g : wanted) {
      if (common.count(g)) present.push_back(g);
    }
    TORCH_CHECK(!present.empty(), "--genes ", file, ": none of its ", wanted.size(), " genes is in every section");
    if (rule) {
      *rule = std::to_string(present.size()) + " of " + std::to_string(wanted.size()) + " listed genes (" +
              fs::path(file).filename().string() + ")";
    }
    return present;
  }
  std::vector<std::string> names(common.begin(), common.end());
  auto totals = at::zeros({static_cast<int64_t>(names.size())}, at::kDouble);
  for (const auto& s : sections) totals += section_targets(s, names).to(at::kDouble).sum(0);
  auto order = std::get<1>(at::sort(totals, /*stable=*/true, /*dim=*/0, /*descending=*/true));
  const int64_t top = config.integer("top_genes");
  std::vector<std::string> genes;
  for (int64_t i = 0; i < std::min<int64_t>(top, order.numel()); ++i) genes.push_back(names[order[i].item<int64_t>()]);
  if (rule) *rule = "top " + std::to_string(top) + " by mean log1p-normalised expression";
  return genes;
}

at::Tensor section_targets(const Section& section, const std::vector<std::string>& genes) {
  std::map<std::string, int64_t> lookup;
  for (size_t i = 0; i < section.gene_names.size(); ++i) lookup.emplace(section.gene_names[i], static_cast<int64_t>(i));
  std::vector<int64_t> columns;
  std::vector<std::string> missing;
  for (const auto& g : genes) {
    auto it = lookup.find(g);
    if (it == lookup.end()) {
      missing.push_back(g);
    } else {
      columns.push_back(it->second);
    }
  }
  TORCH_CHECK(missing.empty(), "section ", section.name, " lacks ", missing.size(), " of the ", genes.size(),
              " panel genes (e.g. '", missing.empty() ? "" : missing[0], "'): a checkpoint or list from another gene set?");
  auto norm = stx::data::normalize_total(section.counts, 1e4, /*log1p=*/true);
  return norm.index_select(1, at::tensor(columns, at::kLong)).to(at::kFloat).contiguous();
}

Pool make_pool(const std::vector<Section>& sections, const std::vector<std::string>& genes) {
  TORCH_CHECK(!sections.empty(), "make_pool: no sections");
  std::vector<at::Tensor> patches, targets, coords, ids;
  Pool p;
  for (size_t i = 0; i < sections.size(); ++i) {
    const auto& s = sections[i];
    patches.push_back(s.patches);
    targets.push_back(section_targets(s, genes));
    coords.push_back(s.coords);
    ids.push_back(at::full({s.counts.size(0)}, static_cast<int64_t>(i), at::kLong));
    p.names.push_back(s.name);
  }
  p.patches = at::cat(patches);
  p.targets = at::cat(targets);
  p.coords = at::cat(coords);
  p.section_id = at::cat(ids);
  return p;
}

}  // namespace stx::train

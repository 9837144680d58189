#include <stx/train/tiles.h>

#include <ATen/ATen.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>

#include <stx/data/slide.h>
#include <stx/data/visium.h>

namespace stx::train {
namespace fs = std::filesystem;
namespace {

std::string known_names(const std::vector<RegionSet>& sets) {
  std::string s;
  for (const auto& r : sets) s += (s.empty() ? "" : ", ") + r.name;
  return s;
}

// A scale folder written by the synthetic generator (docs/data.md): square bins carry bin_size_um
// in their scale factors, extra spot grids their spot diameter.
RegionSet read_scale(const fs::path& folder, const Section& section) {
  stx::data::MatrixOptions dense;
  dense.dense = true;
  const auto sample = stx::data::read_visium(folder.string(), dense);
  RegionSet r;
  r.name = folder.filename().string();
  const auto& sf = sample.scalefactors;
  if (auto b = sf.find("bin_size_um"); b != sf.end()) {
    r.shape = "square";
    r.size_um = b->second;
  } else {
    auto d = sf.find("spot_diameter_fullres");
    TORCH_CHECK(d != sf.end() && d->second > 0, "section ", section.name, ": scale folder ", folder.string(),
                " has neither bin_size_um nor spot_diameter_fullres in its scale factors");
    r.shape = "disk";
    r.size_um = d->second * section.mpp;
  }
  TORCH_CHECK(std::isfinite(r.size_um) && r.size_um > 0, "section ", section.name, ": scale folder ",
              folder.string(), " has region size ", r.size_um, " um");
  r.coords = sample.coords_px.to(at::kDouble);
  r.counts = sample.counts.to(at::kFloat);
  r.gene_names = sample.gene_names;
  return r;
}

}  // namespace

std::vector<RegionSet> region_sets(const Section& section) {
  std::vector<RegionSet> sets;
  RegionSet spots;
  spots.name = "spots";
  spots.shape = "disk";
  spots.size_um = section.spot_diameter_um;
  TORCH_CHECK(std::isfinite(spots.size_um) && spots.size_um > 0, "section ", section.name,
              ": its spot diameter is unknown (no spot_diameter_fullres in the scale factors)");
  spots.coords = section.coords;
  spots.counts = section.counts;
  spots.gene_names = section.gene_names;
  sets.push_back(std::move(spots));
  if (section.folder.empty()) return sets;
  const fs::path scales = fs::path(section.folder) / "scales";
  if (!fs::is_directory(scales)) return sets;
  std::vector<fs::path> folders;
  for (const auto& e : fs::directory_iterator(scales)) {
    if (fs::is_directory(e.path() / "spatial")) folders.push_back(e.path());
  }
  std::sort(folders.begin(), folders.end());
  for (const auto& f : folders) sets.push_back(read_scale(f, section));
  return sets;
}

const RegionSet& find_region_set(const std::vector<RegionSet>& sets, const std::string& name,
                                 const std::string& section) {
  for (const auto& r : sets) {
    if (r.name == name) return r;
  }
  TORCH_CHECK(false, "section ", section, " has no region set '", name, "'; it has [", known_names(sets), "]");
}

double region_area_px(const RegionSet& set, double um_per_px) {
  const double side = set.size_um / um_per_px;
  return set.shape == "square" ? side * side : M_PI * side * side / 4.0;
}

at::Tensor count_targets(const at::Tensor& counts, const std::vector<std::string>& gene_names,
                         const std::vector<std::string>& genes, const std::string& where) {
  std::map<std::string, int64_t> lookup;
  for (size_t i = 0; i < gene_names.size(); ++i) lookup.emplace(gene_names[i], static_cast<int64_t>(i));
  std::vector<int64_t> columns;
  for (const auto& g : genes) {
    auto it = lookup.find(g);
    TORCH_CHECK(it != lookup.end(), where, " lacks panel gene '", g, "': a gene panel mismatch");
    columns.push_back(it->second);
  }
  return at::log1p(counts.index_select(1, at::tensor(columns, at::kLong)).to(at::kFloat).clamp_min(0.0)).contiguous();
}

at::Tensor section_image(const Section& section, double um_per_px) {
  TORCH_CHECK(std::isfinite(um_per_px) && um_per_px > 0, "section_image: um_per_px must be > 0, got ", um_per_px);
  TORCH_CHECK(!section.image_path.empty(), "section ", section.name, ": no image");
  const double image_mpp = section.mpp / section.image_scale;
  stx::data::SlideReader slide(section.image_path, image_mpp);
  const auto dims = slide.level_dimensions(0);
  const at::Tensor hwc = slide.read_region(0, 0, 0, dims[0], dims[1]);
  const int64_t h = std::llround(static_cast<double>(dims[1]) * image_mpp / um_per_px);
  const int64_t w = std::llround(static_cast<double>(dims[0]) * image_mpp / um_per_px);
  TORCH_CHECK(h >= 1 && w >= 1, "section ", section.name, ": its image is under one pixel at ", um_per_px, " um/px");
  const at::Tensor chw = hwc.permute({2, 0, 1}).contiguous();
  if (h == dims[1] && w == dims[0]) return chw;
  auto x = chw.unsqueeze(0).to(at::kFloat);
  x = at::_upsample_bilinear2d_aa(x, {h, w}, /*align_corners=*/false);  // antialiased when shrinking
  return x[0].round().clamp(0, 255).to(at::kByte).contiguous();
}

at::Tensor to_image_pixels(const Section& section, const at::Tensor& coords_xy, double um_per_px) {
  const double k = section.mpp / um_per_px;  // model pixels per full-resolution pixel
  const auto yx = coords_xy.to(at::kDouble).flip({1});
  return yx * k - 0.5;
}

TileSection tile_section(const Section& section, const std::vector<const RegionSet*>& sets,
                         const std::vector<std::string>& genes, double um_per_px) {
  TileSection t;
  t.name = section.name;
  t.um_per_px = um_per_px;
  t.image = section_image(section, um_per_px);
  for (const RegionSet* set : sets) {
    RegionGroup g;
    g.name = set->name;
    g.shape = set->shape;
    g.radius_px = set->size_um / um_per_px / 2.0;
    g.centers = to_image_pixels(section, set->coords, um_per_px);
    g.targets = count_targets(set->counts, set->gene_names, genes, "section " + section.name + " " + set->name);
    t.groups.push_back(std::move(g));
  }
  TORCH_CHECK(!t.groups.empty() && t.groups[0].centers.size(0) > 0, "section ", section.name,
              ": no regions to train on");
  return t;
}

TileBatch sample_tiles(const std::vector<TileSection>& sections, int64_t tile, int64_t batch,
                       const std::string& border, const std::string& augment, at::Generator& gen) {
  TORCH_CHECK(!sections.empty(), "sample_tiles: no sections");
  TORCH_CHECK(tile >= 1 && batch >= 1, "sample_tiles: tile and batch must be >= 1, got ", tile, ", ", batch);
  TORCH_CHECK(border == "drop" || border == "weight", "sample_tiles: border must be drop or weight, got ", border);
  TORCH_CHECK(augment == "dihedral" || augment == "none", "config 'augment' '", augment,
              "' is a spot-patch preset; tile models take dihedral or none");
  const size_t groups = sections[0].groups.size();
  int64_t total = 0;
  for (const auto& s : sections) {
    TORCH_CHECK(s.groups.size() == groups, "sample_tiles: sections have different region groups");
    TORCH_CHECK(s.image.size(1) >= tile && s.image.size(2) >= tile, "config 'tile_px' ", tile,
                " exceeds section ", s.name, "'s image (", s.image.size(1), " x ", s.image.size(2), " px)");
    total += s.groups[0].centers.size(0);
  }
  const auto draws = at::rand({batch, 3}, gen, at::kDouble);
  TileBatch out;
  std::vector<at::Tensor> images;
  std::vector<std::vector<at::Tensor>> centers(groups), targets(groups);
  for (int64_t b = 0; b < batch; ++b) {
    int64_t pick = std::min<int64_t>(total - 1, static_cast<int64_t>(draws[b][0].item<double>() * total));
    size_t si = 0;
    while (pick >= sections[si].groups[0].centers.size(0)) pick -= sections[si++].groups[0].centers.size(0);
    const TileSection& s = sections[si];
    const double r = s.groups[0].radius_px;
    const auto anchor = s.groups[0].centers[pick];
    int64_t origin[2];
    for (int a = 0; a < 2; ++a) {
      const double c = anchor[a].item<double>();
      const int64_t extent = s.image.size(1 + a) - tile;
      int64_t lo = std::max<int64_t>(0, static_cast<int64_t>(std::ceil(c + r - static_cast<double>(tile - 1))));
      int64_t hi = std::min<int64_t>(extent, static_cast<int64_t>(std::floor(c - r)));
      if (lo > hi) lo = hi = std::clamp<int64_t>(std::llround(c - tile / 2.0), 0, extent);  // anchor too big or cut
      origin[a] = lo + std::min<int64_t>(hi - lo, static_cast<int64_t>(draws[b][1 + a].item<double>() * (hi - lo + 1)));
    }
    images.push_back(s.image.slice(1, origin[0], origin[0] + tile).slice(2, origin[1], origin[1] + tile));
    const auto shift = at::tensor({static_cast<double>(origin[0]), static_cast<double>(origin[1])}, at::kDouble);
    for (size_t g = 0; g < groups; ++g) {
      const auto& grp = s.groups[g];
      const auto c = grp.centers - shift;
      const auto y = c.select(1, 0), x = c.select(1, 1);
      const double last = static_cast<double>(tile - 1), rg = grp.radius_px;
      const auto keep = border == "drop" ? (y - rg).ge(0) & (y + rg).le(last) & (x - rg).ge(0) & (x + rg).le(last)
                                         : y.ge(-0.5) & y.lt(last + 0.5) & x.ge(-0.5) & x.lt(last + 0.5);
      const auto idx = keep.nonzero().squeeze(1);
      const auto rows = c.index_select(0, idx);
      centers[g].push_back(at::cat({at::full({rows.size(0), 1}, static_cast<double>(b), at::kDouble), rows}, 1));
      targets[g].push_back(grp.targets.index_select(0, idx));
    }
  }
  out.images = at::stack(images);
  for (size_t g = 0; g < groups; ++g) {
    out.centers.push_back(at::cat(centers[g]));
    out.targets.push_back(at::cat(targets[g]));
  }
  if (augment == "dihedral") {  // one symmetry of the square for the batch, on pixels and centres alike
    const int64_t k = at::randint(8, {1}, gen).item<int64_t>();
    const double last = static_cast<double>(tile - 1);
    if (k & 4) out.images = out.images.transpose(2, 3);
    if (k & 2) out.images = out.images.flip({2});
    if (k & 1) out.images = out.images.flip({3});
    out.images = out.images.contiguous();
    for (auto& c : out.centers) {
      if (c.size(0) == 0) continue;
      auto y = c.select(1, 1).clone(), x = c.select(1, 2).clone();
      if (k & 4) std::swap(y, x);
      if (k & 2) y = last - y;
      if (k & 1) x = last - x;
      c = at::stack({c.select(1, 0), y, x}, 1);
    }
  }
  return out;
}

}  // namespace stx::train

#pragma once
// The tile data mode of the training layer (docs/pixnet.md): a dense model sees an image tile that
// holds many measured regions (spots, or bins of one size) and is trained on all of them at once by
// stx::train::tile_spot_loss. A section becomes its whole image at the model's resolution plus one
// RegionGroup per region size; sample_tiles draws seeded batches of tiles from such sections.
#include <ATen/core/Generator.h>
#include <ATen/core/Tensor.h>

#include <string>
#include <vector>

#include <stx/macros.h>
#include <stx/train/data.h>

namespace stx::train {

// Measured regions of one size and shape in a section: its own spots, or a Visium HD-like bin size.
struct RegionSet {
  std::string name;    // "spots", "square_008um", "spot_100um", ...
  std::string shape;   // "disk" (spots: size = diameter) or "square" (bins: size = side)
  double size_um = 0;
  at::Tensor coords;   // [N, 2] float64 (x, y) in the section's full-resolution pixels
  at::Tensor counts;   // [N, G_all] float32 raw counts
  std::vector<std::string> gene_names;
};

// The section's own spots (needs its spot diameter), then every scale folder of a synthetic study
// under <section folder>/scales/ (docs/data.md), in name order.
STX_API std::vector<RegionSet> region_sets(const Section& section);
// The set called `name` ("spots" or a scale folder's name); an unknown name is an error listing the known.
STX_API const RegionSet& find_region_set(const std::vector<RegionSet>& sets, const std::string& name,
                                         const std::string& section);
// Area of one region in pixels of `um_per_px` (pi r^2, or the square's side^2).
STX_API double region_area_px(const RegionSet& set, double um_per_px);

// log1p of the panel genes' raw counts [N, G] float32: the target of a density map's region sums.
STX_API at::Tensor count_targets(const at::Tensor& counts, const std::vector<std::string>& gene_names,
                                 const std::vector<std::string>& genes, const std::string& where);

// The section's image at `um_per_px` (antialiased resampling of its full-resolution image), uint8 [3, H, W].
// Pixel i of the result covers [i, i + 1) x um_per_px; a full-resolution position x maps to x * k - 0.5
// in spot_pool's coordinates (pixel centres at integers), with k = full-resolution um/px / um_per_px.
STX_API at::Tensor section_image(const Section& section, double um_per_px);
STX_API at::Tensor to_image_pixels(const Section& section, const at::Tensor& coords_xy, double um_per_px);

struct RegionGroup {
  std::string name, shape;
  double radius_px = 0;  // disk radius or half side, in image pixels
  at::Tensor centers;    // [N, 2] float64 (y, x) image pixels
  at::Tensor targets;    // [N, G] float32 log1p counts
};

struct TileSection {
  std::string name;
  at::Tensor image;  // uint8 [3, H, W]
  double um_per_px = 0;
  std::vector<RegionGroup> groups;
};

STX_API TileSection tile_section(const Section& section, const std::vector<const RegionSet*>& sets,
                                 const std::vector<std::string>& genes, double um_per_px);

struct TileBatch {
  at::Tensor images;                // uint8 [B, 3, T, T]
  std::vector<at::Tensor> centers;  // per group: [M, 3] float64 (tile, y, x) in tile pixels (M may be 0)
  std::vector<at::Tensor> targets;  // per group: [M, G]
};

// `batch` tiles of `tile` x `tile` pixels. Each tile is anchored on a region of the first group drawn
// uniformly over all sections (the tile's origin uniform among those holding the anchor wholly), and
// carries every region of every group wholly inside it ("drop") or whose centre lies in it ("weight").
// augment "dihedral": one random symmetry of the square for the batch, applied to the images and the
// centres; "none": as drawn. Every draw comes from `gen`.
STX_API TileBatch sample_tiles(const std::vector<TileSection>& sections, int64_t tile, int64_t batch,
                               const std::string& border, const std::string& augment, at::Generator& gen);

}  // namespace stx::train

#pragma once
// SlideReader: one interface over whole-slide images (OpenSlide: SVS, NDPI, MRXS, pyramidal
// TIFF, ...) and plain images (PNG/JPEG/TIFF through stx::data::read_image, one level).
//
// Coordinates follow OpenSlide: read_region takes the top-left corner (x, y) in level-0
// pixels and a size (w, h) in pixels of the requested level. Pixels come back as uint8
// [h, w, 3] RGB; transparent or partly transparent pixels (OpenSlide's premultiplied ARGB,
// PNG alpha) are composited on white. Reads are thread-safe.
#include <ATen/core/Tensor.h>

#include <array>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <stx/macros.h>

namespace stx::data {

// What read_region does with the part of a region that lies outside the level.
enum class OutsidePolicy {
  Error,  // a region not fully inside the level is an error naming the bounds
  Fill,   // pixels outside are set to `fill` (white by default, like OpenSlide's background)
};

class STX_API SlideReader {
 public:
  // `mpp` (µm per level-0 pixel) overrides or supplies the resolution; otherwise it comes from
  // the slide's openslide.mpp-x/mpp-y properties, and calls that need it fail clearly when
  // the slide has none. Unknown formats and unreadable files are errors naming the file.
  explicit SlideReader(const std::string& path, std::optional<double> mpp = std::nullopt);
  ~SlideReader();
  SlideReader(SlideReader&&) noexcept;
  SlideReader& operator=(SlideReader&&) noexcept;
  SlideReader(const SlideReader&) = delete;
  SlideReader& operator=(const SlideReader&) = delete;

  const std::string& path() const;
  std::string backend() const;  // "openslide" or "image"
  int64_t level_count() const;
  std::array<int64_t, 2> level_dimensions(int64_t level) const;  // (width, height)
  double level_downsample(int64_t level) const;
  std::map<std::string, std::string> properties() const;  // OpenSlide properties; empty for images

  // True when `level` is read by decoding its JPEG tiles directly (Aperio/generic tiled TIFF,
  // checked against OpenSlide on open) rather than through OpenSlide's compositing.
  bool direct_tiles(int64_t level) const;

  bool has_mpp() const;
  double mpp() const;                  // µm/px at level 0; error when unknown
  double level_mpp(int64_t level) const;
  // The coarsest level whose pixels are at least as fine as `target_mpp` (so a patch at that
  // resolution is made by downsampling, never by upsampling); level 0 when all are coarser.
  int64_t best_level_for_mpp(double target_mpp) const;
  // Same, by downsample factor relative to level 0.
  int64_t best_level_for_downsample(double downsample) const;

  at::Tensor read_region(int64_t level, int64_t x, int64_t y, int64_t w, int64_t h,
                         OutsidePolicy outside = OutsidePolicy::Error, uint8_t fill = 255) const;

  // Writes the region into a caller-provided contiguous uint8 [h, w, 3] buffer (no allocation
  // of the output; used by the patch extractor's worker threads).
  void read_region_into(uint8_t* out_hwc, int64_t level, int64_t x, int64_t y, int64_t w, int64_t h,
                        OutsidePolicy outside = OutsidePolicy::Error, uint8_t fill = 255) const;

  struct Impl;

 private:
  void self_check_tiles(const std::vector<std::array<int64_t, 2>>& level_dims);
  std::unique_ptr<Impl> impl_;
};

}  // namespace stx::data

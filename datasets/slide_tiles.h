#pragma once
// Internal: direct tile reader for JPEG-compressed tiled TIFF pyramids (Aperio SVS and
// generic tiled TIFF), used by SlideReader instead of OpenSlide's compositing path when a
// level qualifies. Tiles are decoded by libtiff/libjpeg-turbo once and kept in a byte-bounded
// LRU cache shared by all threads; each thread borrows its own TIFF handle (libtiff handles
// are not thread-safe). Levels that do not qualify (JPEG 2000, other codecs) use OpenSlide.
#include <array>
#include <cstdint>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

typedef struct tiff TIFF;

namespace stx::data::detail {

class TiffTileLevels {
 public:
  // Null when the file is not a TIFF whose tiled directories line up with `level_dims`
  // (width, height per level), 8-bit RGB/YCbCr, contiguous, JPEG-compressed.
  static std::unique_ptr<TiffTileLevels> open(const std::string& path,
                                              const std::vector<std::array<int64_t, 2>>& level_dims);
  ~TiffTileLevels();

  bool has_level(int64_t level) const;
  void disable_level(int64_t level);  // after a failed self-check: that level goes to OpenSlide
  std::array<int64_t, 2> tile_size(int64_t level) const;
  // Copies the region with top-left (lx, ly) in level pixels, w x h, into RGB `out` whose rows
  // are `out_stride` pixels apart; the caller has checked that the region is inside the level.
  void read(int64_t level, int64_t lx, int64_t ly, int64_t w, int64_t h, uint8_t* out, int64_t out_stride) const;

 private:
  struct Level {
    uint16_t dir = 0;
    int64_t width = 0, height = 0, tile_w = 0, tile_h = 0, tiles_across = 0;
    bool ycbcr = false;
  };
  using Tile = std::shared_ptr<const std::vector<uint8_t>>;

  TiffTileLevels() = default;
  Tile tile(int64_t level, int64_t tx, int64_t ty) const;
  TIFF* borrow(int64_t level) const;
  void give_back(int64_t level, TIFF* tif) const;

  std::string path_;
  std::vector<Level> levels_;  // index = slide level; dir = TIFF directory (0 width if absent)
  mutable std::mutex handles_mutex_;
  mutable std::vector<std::vector<TIFF*>> free_handles_;  // per level, each set to its directory
  mutable std::mutex cache_mutex_;
  mutable std::list<int64_t> lru_;  // most recent first
  mutable std::unordered_map<int64_t, std::pair<Tile, std::list<int64_t>::iterator>> cache_;
  mutable size_t cached_bytes_ = 0;
  size_t capacity_bytes_ = size_t(256) << 20;
};

}  // namespace stx::data::detail

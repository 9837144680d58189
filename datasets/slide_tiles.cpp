// Direct tile decoding for JPEG tiled TIFF slides (see slide_tiles.h).
#include "datasets/slide_tiles.h"

#include <c10/util/Exception.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstring>

namespace stx::data::detail {
namespace {
int quiet(TIFF*, void*, const char*, const char*, va_list) { return 1; }

TIFF* open_quiet(const std::string& path) {
  TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
  TIFFOpenOptionsSetErrorHandlerExtR(opts, &quiet, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(opts, &quiet, nullptr);
  TIFF* tif = TIFFOpenExt(path.c_str(), "r", opts);
  TIFFOpenOptionsFree(opts);
  return tif;
}

// Points the handle at `dir` and asks libtiff's JPEG codec for RGB output where the TIFF says
// YCbCr (with photometric RGB the JPEG holds RGB components and is passed through).
bool select_dir(TIFF* tif, uint16_t dir, bool ycbcr) {
  if (!TIFFSetDirectory(tif, dir)) return false;
  if (ycbcr) TIFFSetField(tif, TIFFTAG_JPEGCOLORMODE, JPEGCOLORMODE_RGB);
  return true;
}
}  // namespace

std::unique_ptr<TiffTileLevels> TiffTileLevels::open(const std::string& path,
                                                     const std::vector<std::array<int64_t, 2>>& level_dims) {
  TIFF* tif = open_quiet(path);
  if (!tif) return nullptr;
  std::unique_ptr<TiffTileLevels> out(new TiffTileLevels());
  out->path_ = path;
  out->levels_.resize(level_dims.size());
  bool any = false;
  size_t next_level = 0;
  uint16_t dir = 0;
  do {
    if (!TIFFIsTiled(tif) || next_level >= level_dims.size()) continue;
    uint32_t w = 0, h = 0, tw = 0, th = 0;
    uint16_t compression = 0, photometric = 0, bits = 0, spp = 0, planar = PLANARCONFIG_CONTIG;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetField(tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(tif, TIFFTAG_TILELENGTH, &th);
    TIFFGetFieldDefaulted(tif, TIFFTAG_COMPRESSION, &compression);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PHOTOMETRIC, &photometric);
    TIFFGetFieldDefaulted(tif, TIFFTAG_BITSPERSAMPLE, &bits);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &spp);
    TIFFGetFieldDefaulted(tif, TIFFTAG_PLANARCONFIG, &planar);
    // The slide's levels are its tiled directories in order; a size mismatch means the layout
    // is not the one OpenSlide reports, so nothing is taken from this file.
    const auto& want = level_dims[next_level];
    if (int64_t(w) != want[0] || int64_t(h) != want[1]) {
      TIFFClose(tif);
      return nullptr;
    }
    const bool ok = compression == COMPRESSION_JPEG && bits == 8 && spp == 3 && planar == PLANARCONFIG_CONTIG &&
                    (photometric == PHOTOMETRIC_RGB || photometric == PHOTOMETRIC_YCBCR) && tw > 0 && th > 0;
    if (ok) {
      Level& l = out->levels_[next_level];
      l.dir = dir;
      l.width = w;
      l.height = h;
      l.tile_w = tw;
      l.tile_h = th;
      l.tiles_across = (w + tw - 1) / tw;
      l.ycbcr = photometric == PHOTOMETRIC_YCBCR;
      any = true;
    }
    ++next_level;
  } while (++dir, TIFFReadDirectory(tif));
  TIFFClose(tif);
  if (!any) return nullptr;
  out->free_handles_.resize(level_dims.size());
  return out;
}

TiffTileLevels::~TiffTileLevels() {
  for (auto& handles : free_handles_)
    for (TIFF* t : handles) TIFFClose(t);
}

bool TiffTileLevels::has_level(int64_t level) const {
  return level >= 0 && level < int64_t(levels_.size()) && levels_[size_t(level)].width > 0;
}

void TiffTileLevels::disable_level(int64_t level) {
  if (has_level(level)) levels_[size_t(level)].width = 0;
}

std::array<int64_t, 2> TiffTileLevels::tile_size(int64_t level) const {
  const Level& l = levels_[size_t(level)];
  return {l.tile_w, l.tile_h};
}

TIFF* TiffTileLevels::borrow(int64_t level) const {
  {
    std::lock_guard<std::mutex> g(handles_mutex_);
    auto& handles = free_handles_[size_t(level)];
    if (!handles.empty()) {
      TIFF* t = handles.back();
      handles.pop_back();
      return t;
    }
  }
  TIFF* t = open_quiet(path_);
  const Level& l = levels_[size_t(level)];
  TORCH_CHECK(t && select_dir(t, l.dir, l.ycbcr), "SlideReader('", path_, "'): cannot reopen TIFF directory ", l.dir);
  return t;
}

void TiffTileLevels::give_back(int64_t level, TIFF* tif) const {
  std::lock_guard<std::mutex> g(handles_mutex_);
  free_handles_[size_t(level)].push_back(tif);
}

TiffTileLevels::Tile TiffTileLevels::tile(int64_t level, int64_t tx, int64_t ty) const {
  const Level& l = levels_[size_t(level)];
  const int64_t key = (level << 48) | (ty * l.tiles_across + tx);
  {
    std::lock_guard<std::mutex> g(cache_mutex_);
    auto it = cache_.find(key);
    if (it != cache_.end()) {
      lru_.splice(lru_.begin(), lru_, it->second.second);
      return it->second.first;
    }
  }
  // Decode outside the lock; two threads may decode the same tile once each (harmless).
  auto pixels = std::make_shared<std::vector<uint8_t>>(size_t(l.tile_w * l.tile_h * 3));
  TIFF* tif = borrow(level);
  const tmsize_t got = TIFFReadEncodedTile(tif, TIFFComputeTile(tif, uint32_t(tx * l.tile_w), uint32_t(ty * l.tile_h), 0, 0),
                                           pixels->data(), tmsize_t(pixels->size()));
  give_back(level, tif);
  TORCH_CHECK(got == tmsize_t(pixels->size()), "SlideReader('", path_, "'): tile (", tx, ", ", ty, ") of level ", level,
              " is truncated or corrupt");
  std::lock_guard<std::mutex> g(cache_mutex_);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second.first;
  lru_.push_front(key);
  cache_.emplace(key, std::make_pair(Tile(pixels), lru_.begin()));
  cached_bytes_ += pixels->size();
  while (cached_bytes_ > capacity_bytes_ && lru_.size() > 1) {
    auto old = cache_.find(lru_.back());
    cached_bytes_ -= old->second.first->size();
    cache_.erase(old);
    lru_.pop_back();
  }
  return pixels;
}

void TiffTileLevels::read(int64_t level, int64_t lx, int64_t ly, int64_t w, int64_t h, uint8_t* out,
                          int64_t out_stride) const {
  const Level& l = levels_[size_t(level)];
  for (int64_t ty = ly / l.tile_h; ty * l.tile_h < ly + h; ++ty) {
    for (int64_t tx = lx / l.tile_w; tx * l.tile_w < lx + w; ++tx) {
      const Tile t = tile(level, tx, ty);
      // Overlap of this tile with the region, in level pixels.
      const int64_t x0 = std::max(lx, tx * l.tile_w), x1 = std::min(lx + w, (tx + 1) * l.tile_w);
      const int64_t y0 = std::max(ly, ty * l.tile_h), y1 = std::min(ly + h, (ty + 1) * l.tile_h);
      for (int64_t y = y0; y < y1; ++y) {
        const uint8_t* src = t->data() + ((y - ty * l.tile_h) * l.tile_w + (x0 - tx * l.tile_w)) * 3;
        std::memcpy(out + ((y - ly) * out_stride + (x0 - lx)) * 3, src, size_t((x1 - x0) * 3));
      }
    }
  }
}

}  // namespace stx::data::detail

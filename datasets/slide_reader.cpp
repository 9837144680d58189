// SlideReader: OpenSlide for whole-slide formats, read_image for plain images (decoded once,
// on the first pixel read, and shared by all threads).
#include <ATen/ATen.h>
#include <openslide.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <mutex>

#include <stx/data/image.h>
#include <stx/data/slide.h>

#include "datasets/image_codecs.h"
#include "datasets/slide_tiles.h"

namespace stx::data {

struct SlideReader::Impl {
  std::string path;
  std::optional<double> mpp;
  openslide_t* osr = nullptr;  // null for plain images
  std::unique_ptr<detail::TiffTileLevels> tiles;  // direct JPEG tile path for TIFF-based slides
  ImageInfo info;              // plain images only
  mutable std::once_flag decoded;
  mutable at::Tensor pixels;   // plain images: RGB uint8 [H, W, 3], composited on white

  ~Impl() {
    if (osr) openslide_close(osr);
  }
  std::string error_prefix() const { return "SlideReader('" + path + "'): "; }

  void check_openslide(const char* what) const {
    const char* err = openslide_get_error(osr);
    TORCH_CHECK(err == nullptr, error_prefix(), what, " failed: ", err);
  }

  const at::Tensor& image() const {
    std::call_once(decoded, [this] {
      at::Tensor img = read_image(path);
      if (img.size(2) == 4) {  // straight alpha: c * a + 255 * (1 - a), rounded
        const auto rgb = img.narrow(2, 0, 3).to(at::kInt);
        const auto a = img.narrow(2, 3, 1).to(at::kInt);
        img = ((rgb * a + 255 * (255 - a) + 127) / 255).to(at::kByte);
      }
      pixels = img.contiguous();
    });
    return pixels;
  }
};

namespace {
std::optional<double> property_double(openslide_t* osr, const char* name) {
  const char* v = openslide_get_property_value(osr, name);
  if (v == nullptr || *v == '\0') return std::nullopt;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || !std::isfinite(d) || d <= 0) return std::nullopt;
  return d;
}

// OpenSlide's premultiplied ARGB over white: c_premultiplied + (255 - a).
inline void argb_over_white(uint32_t p, uint8_t* rgb) {
  const uint32_t white = 255 - (p >> 24);
  rgb[0] = static_cast<uint8_t>(((p >> 16) & 0xFF) + white);
  rgb[1] = static_cast<uint8_t>(((p >> 8) & 0xFF) + white);
  rgb[2] = static_cast<uint8_t>((p & 0xFF) + white);
}
}  // namespace

// The direct tile path must give OpenSlide's pixels. Its colour handling depends on how the
// JPEG tiles were written, so each level's first tile is compared once with OpenSlide and the
// level falls back to OpenSlide on any difference.
void SlideReader::self_check_tiles(const std::vector<std::array<int64_t, 2>>& dims) {
  for (int64_t l = 0; l < static_cast<int64_t>(dims.size()); ++l) {
    if (!impl_->tiles->has_level(l)) continue;
    const auto tile = impl_->tiles->tile_size(l);
    const int64_t w = std::min(tile[0], dims[size_t(l)][0]), h = std::min(tile[1], dims[size_t(l)][1]);
    std::vector<uint8_t> direct(size_t(w * h * 3));
    try {
      impl_->tiles->read(l, 0, 0, w, h, direct.data(), w);
    } catch (const c10::Error&) {  // an undecodable tile: leave the level to OpenSlide
      impl_->tiles->disable_level(l);
      continue;
    }
    std::vector<uint32_t> argb(size_t(w * h));
    openslide_read_region(impl_->osr, argb.data(), 0, 0, static_cast<int32_t>(l), w, h);
    impl_->check_openslide("read_region");
    std::vector<uint8_t> reference(direct.size());
    for (int64_t i = 0; i < w * h; ++i) argb_over_white(argb[size_t(i)], reference.data() + 3 * i);
    if (reference != direct) impl_->tiles->disable_level(l);
  }
}

SlideReader::SlideReader(const std::string& path, std::optional<double> mpp) : impl_(std::make_unique<Impl>()) {
  impl_->path = path;
  if (mpp) {
    TORCH_CHECK(std::isfinite(*mpp) && *mpp > 0, impl_->error_prefix(), "mpp must be a positive number of µm per pixel, got ", *mpp);
  }
  std::error_code ec;
  if (std::filesystem::exists(path, ec)) detail::check_regular_file(path, "SlideReader");  // a FIFO would block fopen
  std::FILE* f = std::fopen(path.c_str(), "rb");
  TORCH_CHECK(f != nullptr, impl_->error_prefix(), "cannot open the file: ", std::strerror(errno));
  std::fclose(f);
  if (const char* vendor = openslide_detect_vendor(path.c_str())) {
    impl_->osr = openslide_open(path.c_str());
    TORCH_CHECK(impl_->osr != nullptr, impl_->error_prefix(), "OpenSlide recognises vendor '", vendor, "' but cannot open it");
    impl_->check_openslide("opening the slide");
    if (!mpp) {
      const auto mx = property_double(impl_->osr, OPENSLIDE_PROPERTY_NAME_MPP_X);
      const auto my = property_double(impl_->osr, OPENSLIDE_PROPERTY_NAME_MPP_Y);
      if (mx && my) mpp = 0.5 * (*mx + *my);
      else if (mx || my) mpp = mx ? *mx : *my;
    }
    const std::string v = vendor;
    if (v == "aperio" || v == "generic-tiff") {
      std::vector<std::array<int64_t, 2>> dims;
      for (int64_t l = 0; l < level_count(); ++l) dims.push_back(level_dimensions(l));
      impl_->tiles = detail::TiffTileLevels::open(path, dims);
      if (impl_->tiles) self_check_tiles(dims);
    }
  } else {
    const ImageFormat format = sniff_image_format(path);
    TORCH_CHECK(format != ImageFormat::Unknown, impl_->error_prefix(),
                "unknown slide format: neither OpenSlide (SVS, NDPI, MRXS, SCN, VMS, BIF, tiled TIFF, ...) "
                "nor the image reader (PNG, JPEG, TIFF) recognises the file");
    impl_->info = probe_image(path);
  }
  impl_->mpp = mpp;
}

SlideReader::~SlideReader() = default;
SlideReader::SlideReader(SlideReader&&) noexcept = default;
SlideReader& SlideReader::operator=(SlideReader&&) noexcept = default;

const std::string& SlideReader::path() const { return impl_->path; }
std::string SlideReader::backend() const { return impl_->osr ? "openslide" : "image"; }

int64_t SlideReader::level_count() const {
  if (!impl_->osr) return 1;
  const int32_t n = openslide_get_level_count(impl_->osr);
  impl_->check_openslide("reading the level count");
  return n;
}

static void check_level(const SlideReader& s, int64_t level) {
  TORCH_CHECK(level >= 0 && level < s.level_count(), "SlideReader('", s.path(), "'): level must be in [0, ",
              s.level_count(), "), got ", level);
}

std::array<int64_t, 2> SlideReader::level_dimensions(int64_t level) const {
  check_level(*this, level);
  if (!impl_->osr) return {impl_->info.width, impl_->info.height};
  int64_t w = 0, h = 0;
  openslide_get_level_dimensions(impl_->osr, static_cast<int32_t>(level), &w, &h);
  impl_->check_openslide("reading level dimensions");
  return {w, h};
}

double SlideReader::level_downsample(int64_t level) const {
  check_level(*this, level);
  if (!impl_->osr) return 1.0;
  const double d = openslide_get_level_downsample(impl_->osr, static_cast<int32_t>(level));
  impl_->check_openslide("reading a level downsample");
  return d;
}

std::map<std::string, std::string> SlideReader::properties() const {
  std::map<std::string, std::string> out;
  if (!impl_->osr) return out;
  for (const char* const* name = openslide_get_property_names(impl_->osr); name && *name; ++name) {
    const char* v = openslide_get_property_value(impl_->osr, *name);
    out[*name] = v ? v : "";
  }
  return out;
}

bool SlideReader::direct_tiles(int64_t level) const {
  check_level(*this, level);
  return impl_->tiles && impl_->tiles->has_level(level);
}

bool SlideReader::has_mpp() const { return impl_->mpp.has_value(); }

double SlideReader::mpp() const {
  TORCH_CHECK(impl_->mpp.has_value(), impl_->error_prefix(),
              "the slide has no microns-per-pixel (openslide.mpp-x/mpp-y are absent); pass mpp= to SlideReader "
              "to supply it");
  return *impl_->mpp;
}

double SlideReader::level_mpp(int64_t level) const { return mpp() * level_downsample(level); }

int64_t SlideReader::best_level_for_downsample(double downsample) const {
  TORCH_CHECK(std::isfinite(downsample) && downsample > 0, impl_->error_prefix(),
              "downsample must be a positive number, got ", downsample);
  // 1% slack: a level at 2.0005x serves a 2x request (the patch extractor resamples the rest).
  int64_t best = 0;
  for (int64_t l = 1; l < level_count(); ++l)
    if (level_downsample(l) <= downsample * 1.01) best = l;
  return best;
}

int64_t SlideReader::best_level_for_mpp(double target_mpp) const {
  TORCH_CHECK(std::isfinite(target_mpp) && target_mpp > 0, impl_->error_prefix(),
              "target_mpp must be a positive number of µm per pixel, got ", target_mpp);
  return best_level_for_downsample(target_mpp / mpp());
}

void SlideReader::read_region_into(uint8_t* out, int64_t level, int64_t x, int64_t y, int64_t w, int64_t h,
                                   OutsidePolicy outside, uint8_t fill) const {
  TORCH_CHECK(w > 0 && h > 0, impl_->error_prefix(), "read_region size must be positive, got w=", w, " h=", h);
  TORCH_CHECK(w <= (int64_t(1) << 20) && h <= (int64_t(1) << 20) && w * h <= (int64_t(1) << 30), impl_->error_prefix(),
              "read_region of ", w, "x", h, " px is too large (at most 2^30 pixels per call)");
  const auto dims = level_dimensions(level);
  const double ds = level_downsample(level);
  // The region's top-left corner in this level's pixels.
  const int64_t lx = static_cast<int64_t>(std::floor(static_cast<double>(x) / ds));
  const int64_t ly = static_cast<int64_t>(std::floor(static_cast<double>(y) / ds));
  const bool inside = lx >= 0 && ly >= 0 && lx + w <= dims[0] && ly + h <= dims[1];
  TORCH_CHECK(inside || outside == OutsidePolicy::Fill, impl_->error_prefix(), "region (x=", x, ", y=", y, ", w=", w,
              ", h=", h, ") at level ", level, " lies outside the level (", dims[0], "x", dims[1],
              " px); use the fill policy to pad");
  // Columns/rows of the output that fall inside the level.
  const int64_t c0 = std::clamp<int64_t>(-lx, 0, w), c1 = std::clamp<int64_t>(dims[0] - lx, 0, w);
  const int64_t r0 = std::clamp<int64_t>(-ly, 0, h), r1 = std::clamp<int64_t>(dims[1] - ly, 0, h);
  if (!inside) std::memset(out, fill, static_cast<size_t>(w * h * 3));
  if (c0 >= c1 || r0 >= r1) return;

  // Direct tiles where the level qualifies and the region starts on a whole level pixel
  // (OpenSlide interpolates fractional level offsets; those keep its path).
  const bool whole_pixel = level == 0 || (static_cast<double>(lx) * ds == static_cast<double>(x) &&
                                          static_cast<double>(ly) * ds == static_cast<double>(y));
  if (impl_->tiles && impl_->tiles->has_level(level) && whole_pixel) {
    impl_->tiles->read(level, lx + c0, ly + r0, c1 - c0, r1 - r0, out + (r0 * w + c0) * 3, w);
    return;
  }
  if (impl_->osr) {
    std::vector<uint32_t> argb(static_cast<size_t>(w * h));
    openslide_read_region(impl_->osr, argb.data(), x, y, static_cast<int32_t>(level), w, h);
    impl_->check_openslide("read_region");
    for (int64_t r = r0; r < r1; ++r) {
      const uint32_t* s = argb.data() + r * w;
      uint8_t* d = out + r * w * 3;
      for (int64_t c = c0; c < c1; ++c) argb_over_white(s[c], d + c * 3);
    }
    return;
  }
  const at::Tensor& img = impl_->image();
  const uint8_t* src = img.data_ptr<uint8_t>();
  const int64_t W = dims[0];
  for (int64_t r = r0; r < r1; ++r)
    std::memcpy(out + (r * w + c0) * 3, src + ((ly + r) * W + lx + c0) * 3, static_cast<size_t>((c1 - c0) * 3));
}

at::Tensor SlideReader::read_region(int64_t level, int64_t x, int64_t y, int64_t w, int64_t h, OutsidePolicy outside,
                                    uint8_t fill) const {
  TORCH_CHECK(w > 0 && h > 0, impl_->error_prefix(), "read_region size must be positive, got w=", w, " h=", h);
  auto out = at::empty({h, w, 3}, at::kByte);
  read_region_into(out.data_ptr<uint8_t>(), level, x, y, w, h, outside, fill);
  return out;
}

}  // namespace stx::data

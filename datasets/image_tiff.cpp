// TIFF through libtiff. Label masks (one integer-valued sample per pixel, any integer or float
// sample type) decode to int64 for read_label_mask. 8-bit grey/RGB(A) images with contiguous
// samples are copied straight from their strips or tiles; every other 8-bit layout (palette,
// YCbCr, 1-bit, ...) goes through libtiff's RGBA converter. Deeper samples (16-bit, float) are
// rejected by read_image: it returns uint8 and rescaling would silently change values.
#include <ATen/ATen.h>
#include <tiffio.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <cmath>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <type_traits>

#include "datasets/image_codecs.h"

namespace stx::data::detail {
namespace {

// libtiff errors are collected per handle (not printed) and put into the exception text.
int collect_error(TIFF*, void* user_data, const char* module, const char* fmt, va_list ap) {
  char buf[512];
  std::vsnprintf(buf, sizeof(buf), fmt, ap);
  auto* sink = static_cast<std::string*>(user_data);
  if (sink->empty()) *sink = std::string(module ? module : "libtiff") + ": " + buf;
  return 1;
}
int ignore_warning(TIFF*, void*, const char*, const char*, va_list) { return 1; }

struct TiffFile {
  std::string error;
  TIFF* tif = nullptr;
  explicit TiffFile(const std::string& path, const char* op = "read_image") {
    TIFFOpenOptions* opts = TIFFOpenOptionsAlloc();
    TIFFOpenOptionsSetErrorHandlerExtR(opts, &collect_error, &error);
    TIFFOpenOptionsSetWarningHandlerExtR(opts, &ignore_warning, nullptr);
    tif = TIFFOpenExt(path.c_str(), "r", opts);
    TIFFOpenOptionsFree(opts);
    TORCH_CHECK(tif != nullptr, op, ": '", path, "' is not a readable TIFF: ", error);
  }
  ~TiffFile() {
    if (tif) TIFFClose(tif);
  }
  TiffFile(const TiffFile&) = delete;
  TiffFile& operator=(const TiffFile&) = delete;
};

struct TiffLayout {
  uint32_t width = 0, height = 0;
  uint16_t bits = 1, samples = 1, planar = PLANARCONFIG_CONTIG, photometric = PHOTOMETRIC_MINISBLACK;
  uint16_t sample_format = SAMPLEFORMAT_UINT, extra = 0;
  bool has_alpha() const { return extra > 0 && (samples == 2 || samples == 4); }
  // Grey/RGB(A) 8-bit unsigned, interleaved: copy the decoded strips/tiles directly.
  bool direct() const {
    return bits == 8 && sample_format == SAMPLEFORMAT_UINT && planar == PLANARCONFIG_CONTIG &&
           ((photometric == PHOTOMETRIC_MINISBLACK && (samples == 1 || samples == 2)) ||
            (photometric == PHOTOMETRIC_RGB && (samples == 3 || samples == 4)));
  }
};

// The current directory's layout; `op` names the caller in errors.
TiffLayout read_layout(TiffFile& f, const std::string& path, const char* op = "read_image") {
  TiffLayout l;
  TORCH_CHECK(TIFFGetField(f.tif, TIFFTAG_IMAGEWIDTH, &l.width) && TIFFGetField(f.tif, TIFFTAG_IMAGELENGTH, &l.height),
              op, ": '", path, "' has no ImageWidth/ImageLength tag");
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_BITSPERSAMPLE, &l.bits);
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_SAMPLESPERPIXEL, &l.samples);
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_PLANARCONFIG, &l.planar);
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_SAMPLEFORMAT, &l.sample_format);
  uint16_t* extra_types = nullptr;
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_EXTRASAMPLES, &l.extra, &extra_types);
  if (!TIFFGetField(f.tif, TIFFTAG_PHOTOMETRIC, &l.photometric))
    l.photometric = l.samples >= 3 ? PHOTOMETRIC_RGB : PHOTOMETRIC_MINISBLACK;
  TORCH_CHECK(l.width > 0 && l.height > 0, op, ": '", path, "' has an empty image (", l.width, "x", l.height, ")");
  return l;
}

// read_image returns uint8: deeper samples would need a rescaling that silently changes values.
TiffLayout read_uint8_layout(TiffFile& f, const std::string& path) {
  const TiffLayout l = read_layout(f, path);
  TORCH_CHECK(l.bits <= 8 && l.sample_format == SAMPLEFORMAT_UINT, "read_image: '", path, "' has ", l.bits,
              "-bit ", l.sample_format == SAMPLEFORMAT_IEEEFP ? "float" : "integer",
              " samples; only 8-bit (or fewer) unsigned TIFFs decode to uint8 without rescaling "
              "(read_image_planes returns the raw samples)");
  return l;
}

// Copies one decoded block (rows x cols pixels of `samples` bytes, row pitch `pitch`) to the
// output at (y0, x0), expanding grey to RGB.
void put_block(const uint8_t* src, int64_t pitch, int64_t rows, int64_t cols, int64_t y0, int64_t x0,
               const TiffLayout& l, at::Tensor& out) {
  const int64_t C = out.size(2), W = out.size(1);
  uint8_t* dst = out.data_ptr<uint8_t>();
  for (int64_t r = 0; r < rows; ++r) {
    const uint8_t* s = src + r * pitch;
    uint8_t* d = dst + ((y0 + r) * W + x0) * C;
    if (l.samples == C) {
      std::memcpy(d, s, static_cast<size_t>(cols * C));
    } else if (l.samples >= 3) {  // RGB plus an unused extra sample
      for (int64_t c = 0; c < cols; ++c) std::memcpy(d + c * C, s + c * l.samples, static_cast<size_t>(C));
    } else {
      for (int64_t c = 0; c < cols; ++c) {
        d[c * C] = d[c * C + 1] = d[c * C + 2] = s[c * l.samples];
        if (C == 4) d[c * C + 3] = s[c * l.samples + 1];
      }
    }
  }
}

// The rows [y0, y0 + h) and columns [x0, x0 + w) of an image that a decoder needs.
struct Window {
  int64_t y0, x0, h, w;
};

// Decodes the strips or tiles of a contiguous-sample TIFF that meet `win` (default: all of them)
// and hands each to put(block, pitch_bytes, rows, cols, y0, x0), (y0, x0) being the block's place
// in the image; `pixel_bytes` is the size of one pixel's samples.
template <typename Put>
void read_blocks(TiffFile& f, int64_t H, int64_t W, int64_t pixel_bytes, const char* op, const std::string& path,
                 Put put, std::optional<Window> window = std::nullopt) {
  const Window win = window.value_or(Window{0, 0, H, W});
  if (TIFFIsTiled(f.tif)) {
    uint32_t tw = 0, th = 0;
    TIFFGetField(f.tif, TIFFTAG_TILEWIDTH, &tw);
    TIFFGetField(f.tif, TIFFTAG_TILELENGTH, &th);
    TORCH_CHECK(tw > 0 && th > 0, op, ": '", path, "' is tiled but has no tile size");
    // A tile is decoded whole, so a corrupt tile size would allocate without bound. Writers use
    // tiles of a few hundred to a few thousand pixels, or at most one tile per image side.
    constexpr int64_t kMaxTileSide = 4096;
    TORCH_CHECK(int64_t(tw) <= std::max(W, kMaxTileSide) && int64_t(th) <= std::max(H, kMaxTileSide), op, ": '",
                path, "' declares ", tw, "x", th, " tiles for a ", W, "x", H,
                " image (corrupt tile size: a tile side may exceed 4096 only up to the image side)");
    check_pixels(path, op, th, tw);
    std::vector<uint8_t> buf(static_cast<size_t>(TIFFTileSize(f.tif)));
    for (int64_t y = win.y0 / th * th; y < win.y0 + win.h; y += th) {
      for (int64_t x = win.x0 / tw * tw; x < win.x0 + win.w; x += tw) {
        const int64_t rows = std::min<int64_t>(th, H - y), cols = std::min<int64_t>(tw, W - x);
        const tmsize_t got = TIFFReadEncodedTile(f.tif, TIFFComputeTile(f.tif, x, y, 0, 0), buf.data(),
                                                 static_cast<tmsize_t>(buf.size()));
        TORCH_CHECK(got >= (rows - 1) * int64_t(tw) * pixel_bytes + cols * pixel_bytes, op, ": '", path,
                    "' is a truncated or corrupt TIFF (tile at ", x, ",", y, "): ", f.error);
        put(buf.data(), int64_t(tw) * pixel_bytes, rows, cols, y, x);
      }
    }
    return;
  }
  uint32_t rows_per_strip = 0;
  TIFFGetFieldDefaulted(f.tif, TIFFTAG_ROWSPERSTRIP, &rows_per_strip);
  rows_per_strip = std::min<uint32_t>(std::max<uint32_t>(rows_per_strip, 1), static_cast<uint32_t>(H));
  check_pixels(path, op, rows_per_strip, W);
  std::vector<uint8_t> buf(static_cast<size_t>(TIFFStripSize(f.tif)));
  for (int64_t y = win.y0 / rows_per_strip * rows_per_strip; y < win.y0 + win.h; y += rows_per_strip) {
    const tmsize_t got = TIFFReadEncodedStrip(f.tif, TIFFComputeStrip(f.tif, static_cast<uint32_t>(y), 0), buf.data(),
                                              static_cast<tmsize_t>(buf.size()));
    const int64_t rows = std::min<int64_t>(rows_per_strip, H - y);
    TORCH_CHECK(got >= rows * W * pixel_bytes, op, ": '", path, "' is a truncated or corrupt TIFF (strip at row ", y,
                "): ", f.error.empty() ? "short strip" : f.error);
    put(buf.data(), W * pixel_bytes, rows, W, y, int64_t(0));
  }
}

void decode_direct(TiffFile& f, const TiffLayout& l, const std::string& path, at::Tensor& out) {
  read_blocks(f, l.height, l.width, l.samples, "read_image", path,
              [&](const uint8_t* src, int64_t pitch, int64_t rows, int64_t cols, int64_t y0, int64_t x0) {
                put_block(src, pitch, rows, cols, y0, x0, l, out);
              });
}

constexpr const char* kLabelOp = "read_label_mask";

// One label sample as int64; false when it is not a non-negative integer (NaN, fraction, < 0).
template <typename S>
bool label_value(S v, int64_t* out) {
  if constexpr (std::is_floating_point_v<S>) {
    if (!(v >= 0) || v != std::floor(v) || v >= 9.2e18) return false;
  } else if constexpr (std::is_signed_v<S>) {
    if (v < 0) return false;
  }
  *out = static_cast<int64_t>(v);
  return static_cast<uint64_t>(v) <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max());
}

// Calls fn(S{}) with S the C++ type of a TIFF (sample format, bits per sample) pair, once per image
// rather than per pixel; false when the pair has no such type (1/4/12-bit, complex, ...).
template <typename Fn>
bool with_sample_type(uint16_t format, uint16_t bits, Fn&& fn) {
  switch (format * 1000 + bits) {
    case SAMPLEFORMAT_UINT * 1000 + 8: fn(uint8_t{}); return true;
    case SAMPLEFORMAT_UINT * 1000 + 16: fn(uint16_t{}); return true;
    case SAMPLEFORMAT_UINT * 1000 + 32: fn(uint32_t{}); return true;
    case SAMPLEFORMAT_UINT * 1000 + 64: fn(uint64_t{}); return true;
    case SAMPLEFORMAT_INT * 1000 + 8: fn(int8_t{}); return true;
    case SAMPLEFORMAT_INT * 1000 + 16: fn(int16_t{}); return true;
    case SAMPLEFORMAT_INT * 1000 + 32: fn(int32_t{}); return true;
    case SAMPLEFORMAT_INT * 1000 + 64: fn(int64_t{}); return true;
    case SAMPLEFORMAT_IEEEFP * 1000 + 32: fn(float{}); return true;
    case SAMPLEFORMAT_IEEEFP * 1000 + 64: fn(double{}); return true;
    default: return false;
  }
}

constexpr const char* kPlanesOp = "read_image_planes";

// The tensor type that holds every value of sample type S exactly (torch has no uint16/uint32
// arithmetic worth the name, so those widen to int32/int64).
template <typename S>
using PlaneValue = std::conditional_t<
    std::is_same_v<S, uint16_t>, int32_t,
    std::conditional_t<std::is_same_v<S, uint32_t> || std::is_same_v<S, uint64_t>, int64_t, S>>;

// Decodes window `win` of the current directory ([H, W] image, contiguous samples of type S) into
// out [samples, win.h, win.w] of type O, each sample through convert(value, row, col), which may
// reject it (label masks) or widen it (raw planes).
template <typename S, typename O, typename Convert>
void decode_samples_as(TiffFile& f, const char* op, const std::string& path, int64_t H, int64_t W, const Window& win,
                       at::Tensor& out, Convert convert) {
  const int64_t C = out.size(0), oh = out.size(1), ow = out.size(2);
  O* o = out.data_ptr<O>();
  read_blocks(f, H, W, C * int64_t(sizeof(S)), op, path,
              [&](const uint8_t* src, int64_t pitch, int64_t rows, int64_t cols, int64_t y0, int64_t x0) {
                const int64_t r0 = std::max<int64_t>(0, win.y0 - y0), r1 = std::min(rows, win.y0 + win.h - y0);
                const int64_t c0 = std::max<int64_t>(0, win.x0 - x0), c1 = std::min(cols, win.x0 + win.w - x0);
                for (int64_t r = r0; r < r1; ++r) {
                  const uint8_t* s = src + r * pitch + c0 * C * int64_t(sizeof(S));
                  for (int64_t c = c0; c < c1; ++c) {
                    for (int64_t k = 0; k < C; ++k, s += sizeof(S)) {
                      S v;
                      std::memcpy(&v, s, sizeof(S));
                      o[(k * oh + y0 + r - win.y0) * ow + x0 + c - win.x0] = convert(v, y0 + r, x0 + c);
                    }
                  }
                }
              },
              win);
}

void decode_rgba(TiffFile& f, const TiffLayout& l, const std::string& path, at::Tensor& out) {
  char emsg[1024] = {0};
  TORCH_CHECK(TIFFRGBAImageOK(f.tif, emsg), "read_image: '", path, "' has a TIFF layout libtiff cannot convert: ", emsg);
  std::vector<uint32_t> rgba(static_cast<size_t>(l.width) * l.height);
  TORCH_CHECK(TIFFReadRGBAImageOriented(f.tif, l.width, l.height, rgba.data(), ORIENTATION_TOPLEFT, 0),
              "read_image: '", path, "' is a truncated or corrupt TIFF: ", f.error);
  const int64_t C = out.size(2);
  uint8_t* d = out.data_ptr<uint8_t>();
  for (size_t i = 0; i < rgba.size(); ++i, d += C) {
    d[0] = static_cast<uint8_t>(TIFFGetR(rgba[i]));
    d[1] = static_cast<uint8_t>(TIFFGetG(rgba[i]));
    d[2] = static_cast<uint8_t>(TIFFGetB(rgba[i]));
    if (C == 4) d[3] = static_cast<uint8_t>(TIFFGetA(rgba[i]));
  }
}

}  // namespace

ImageInfo probe_tiff(const std::string& path) {
  TiffFile f(path);
  const TiffLayout l = read_uint8_layout(f, path);
  return {l.width, l.height, l.has_alpha() ? 4 : 3, ImageFormat::TIFF};
}

at::Tensor decode_tiff_labels(const std::string& path) {
  TiffFile f(path, kLabelOp);
  const TiffLayout l = read_layout(f, path, kLabelOp);
  TORCH_CHECK(l.samples == 1, kLabelOp, ": '", path, "' has ", l.samples, " samples per pixel; a label mask has one");
  const int64_t H = l.height, W = l.width;
  check_pixels(path, kLabelOp, H, W);
  at::Tensor out = at::empty({1, H, W}, at::kLong);
  const bool known = with_sample_type(l.sample_format, l.bits, [&](auto sample) {
    using S = decltype(sample);
    decode_samples_as<S, int64_t>(f, kLabelOp, path, H, W, Window{0, 0, H, W}, out, [&](S v, int64_t r, int64_t c) {
      int64_t label = 0;
      TORCH_CHECK(label_value(v, &label), kLabelOp, ": '", path, "' pixel (row ", r, ", col ", c,
                  ") is not a non-negative integer label (negative, fractional or NaN)");
      return label;
    });
  });
  TORCH_CHECK(known, kLabelOp, ": '", path, "' has ", l.bits, "-bit samples of format ", l.sample_format,
              "; expected 8/16/32/64-bit integers or 32/64-bit floats holding integers");
  return out[0];
}

at::Tensor decode_tiff(const std::string& path) {
  TiffFile f(path);
  const TiffLayout l = read_uint8_layout(f, path);
  check_pixels(path, "read_image", l.height, l.width);
  auto out = at::empty({int64_t(l.height), int64_t(l.width), l.has_alpha() ? 4 : 3}, at::kByte);
  if (l.direct()) {
    decode_direct(f, l, path, out);
  } else {
    decode_rgba(f, l, path, out);
  }
  return out;
}

at::Tensor decode_tiff_planes(const std::string& path, std::optional<int64_t> only,
                              std::optional<PixelRegion> region) {
  TORCH_CHECK(!only || *only >= 0, kPlanesOp, ": page must be >= 0, got ", only.value_or(0));
  if (region) {
    TORCH_CHECK(region->x >= 0 && region->y >= 0 && region->width > 0 && region->height > 0, kPlanesOp,
                ": region (x=", region->x, ", y=", region->y, ", width=", region->width, ", height=", region->height,
                ") needs x, y >= 0 and a positive size");
  }
  TiffFile f(path, kPlanesOp);
  std::vector<at::Tensor> planes;
  TiffLayout first;
  int64_t page = 0;       // directory index, as named in errors
  int64_t full_page = 0;  // index among the full-resolution pages, as `only` counts
  for (;; ++page) {
    uint32_t subfile = 0;
    TIFFGetFieldDefaulted(f.tif, TIFFTAG_SUBFILETYPE, &subfile);
    // Pyramid levels and thumbnails are not planes; with `only`, the other pages are not decoded.
    if ((subfile & FILETYPE_REDUCEDIMAGE) == 0 && (!only || full_page++ == *only)) {
      const TiffLayout l = read_layout(f, path, kPlanesOp);
      TORCH_CHECK(l.planar == PLANARCONFIG_CONTIG || l.samples == 1, kPlanesOp, ": '", path, "' page ", page,
                  " stores its ", l.samples, " samples in separate planes, which is not supported");
      if (planes.empty()) {
        first = l;
      } else {
        TORCH_CHECK(l.width == first.width && l.height == first.height && l.bits == first.bits &&
                        l.sample_format == first.sample_format,
                    kPlanesOp, ": '", path, "' page ", page, " is ", l.width, "x", l.height, " with ", l.bits,
                    "-bit samples of format ", l.sample_format, ", unlike the first page (", first.width, "x",
                    first.height, ", ", first.bits, "-bit, format ", first.sample_format, ")");
      }
      const int64_t H = l.height, W = l.width;
      const Window win = region ? Window{region->y, region->x, region->height, region->width} : Window{0, 0, H, W};
      TORCH_CHECK(win.x0 + win.w <= W && win.y0 + win.h <= H, kPlanesOp, ": region (x=", win.x0, ", y=", win.y0,
                  ", width=", win.w, ", height=", win.h, ") reaches outside '", path, "' page ", page, " (", W, "x",
                  H, ")");
      check_pixels(path, kPlanesOp, win.h, win.w, int64_t(l.samples) * int64_t(planes.size() + 1));
      at::Tensor out;
      const bool known = with_sample_type(l.sample_format, l.bits, [&](auto sample) {
        using S = decltype(sample);
        out = at::empty({int64_t(l.samples), win.h, win.w}, c10::CppTypeToScalarType<PlaneValue<S>>::value);
        using O = PlaneValue<S>;
        decode_samples_as<S, O>(f, kPlanesOp, path, H, W, win, out, [&](S v, int64_t r, int64_t c) {
          if constexpr (std::is_same_v<S, uint64_t>) {
            TORCH_CHECK(v <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max()), kPlanesOp, ": '", path,
                        "' page ", page, " pixel (row ", r, ", col ", c, ") does not fit int64");
          }
          return static_cast<O>(v);
        });
      });
      TORCH_CHECK(known, kPlanesOp, ": '", path, "' page ", page, " has ", l.bits, "-bit samples of format ",
                  l.sample_format, "; expected 8/16/32/64-bit integers or 32/64-bit floats");
      if (only) return out;
      planes.push_back(std::move(out));
    }
    f.error.clear();
    if (!TIFFReadDirectory(f.tif)) break;
  }
  TORCH_CHECK(f.error.empty(), kPlanesOp, ": '", path, "' has a corrupt directory after page ", page, ": ", f.error);
  TORCH_CHECK(!only, kPlanesOp, ": page ", only.value_or(0), " is out of range: '", path, "' has ", full_page,
              " full-resolution page(s)");
  return planes.size() == 1 ? planes[0] : at::cat(planes, 0);
}

}  // namespace stx::data::detail

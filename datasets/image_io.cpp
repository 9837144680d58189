// Format sniffing, read_image/probe_image dispatch, and PNG through libpng's simplified API
// (which reports errors as return codes, so no setjmp is needed).
#include <ATen/ATen.h>
#include <png.h>

#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "datasets/image_codecs.h"

namespace stx::data {
namespace detail {

void check_regular_file(const std::string& path, const char* op) {
  std::error_code ec;
  const auto st = std::filesystem::status(path, ec);
  TORCH_CHECK(std::filesystem::exists(st), op, ": cannot open '", path, "': no such file");
  TORCH_CHECK(std::filesystem::is_regular_file(st), op, ": '", path, "' is not a regular file (a directory, FIFO, "
              "socket or device); images are read from regular files only");
}

void check_pixels(const std::string& path, const char* op, int64_t height, int64_t width, int64_t planes) {
  const int64_t limit = max_image_pixels();
  if (limit == 0) return;
  const double n = static_cast<double>(height) * static_cast<double>(width) * static_cast<double>(planes);
  TORCH_CHECK(n <= static_cast<double>(limit), op, ": '", path, "' declares ", planes > 1 ? std::to_string(planes) + " x " : "",
              height, " x ", width, " pixels, above the limit of ", limit,
              " (raise it with stx::data::set_max_image_pixels / stx.data.set_max_image_pixels or STX_MAX_IMAGE_PIXELS)");
}

std::vector<uint8_t> read_file_bytes(const std::string& path) {
  check_regular_file(path, "read_image");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  TORCH_CHECK(in.good(), "cannot open '", path, "': ", std::strerror(errno));
  const std::streamsize size = in.tellg();
  TORCH_CHECK(size >= 0, "cannot determine the size of '", path, "'");
  std::vector<uint8_t> bytes(static_cast<size_t>(size));
  in.seekg(0);
  TORCH_CHECK(size == 0 || in.read(reinterpret_cast<char*>(bytes.data()), size),
              "cannot read '", path, "'");
  return bytes;
}

namespace {
// RAII for png_image: png_image_free releases what begin_read allocated.
struct PngImage {
  png_image img;
  PngImage() {
    std::memset(&img, 0, sizeof(img));
    img.version = PNG_IMAGE_VERSION;
  }
  ~PngImage() { png_image_free(&img); }
  PngImage(const PngImage&) = delete;
  PngImage& operator=(const PngImage&) = delete;
};

void begin_png(PngImage& png, const std::string& path) {
  TORCH_CHECK(png_image_begin_read_from_file(&png.img, path.c_str()) != 0, "read_image: '", path,
              "' is not a readable PNG: ", png.img.message);
}

int64_t png_channels(const png_image& img) { return (img.format & PNG_FORMAT_FLAG_ALPHA) ? 4 : 3; }
}  // namespace

ImageInfo probe_png(const std::string& path) {
  PngImage png;
  begin_png(png, path);
  return {png.img.width, png.img.height, png_channels(png.img), ImageFormat::PNG};
}

at::Tensor decode_png(const std::string& path) {
  PngImage png;
  begin_png(png, path);
  check_pixels(path, "read_image", png.img.height, png.img.width);
  const int64_t channels = png_channels(png.img);
  png.img.format = channels == 4 ? PNG_FORMAT_RGBA : PNG_FORMAT_RGB;
  auto out = at::empty({png.img.height, png.img.width, channels}, at::kByte);
  TORCH_CHECK(png_image_finish_read(&png.img, nullptr, out.data_ptr<uint8_t>(), 0, nullptr) != 0,
              "read_image: '", path, "' is a truncated or corrupt PNG: ", png.img.message);
  return out;
}

}  // namespace detail

namespace {
int64_t initial_max_pixels() {
  const char* s = std::getenv("STX_MAX_IMAGE_PIXELS");
  if (s == nullptr || *s == '\0') return int64_t(1) << 29;
  char* end = nullptr;
  errno = 0;
  const long long v = std::strtoll(s, &end, 10);
  TORCH_CHECK(end != s && *end == '\0' && errno == 0 && v >= 0, "STX_MAX_IMAGE_PIXELS must be a non-negative integer "
              "(0 = no limit), got '", s, "'");
  return v;
}

std::atomic<int64_t>& max_pixels() {
  static std::atomic<int64_t> v{initial_max_pixels()};
  return v;
}
}  // namespace

int64_t max_image_pixels() { return max_pixels().load(); }

void set_max_image_pixels(int64_t pixels) {
  TORCH_CHECK(pixels >= 0, "set_max_image_pixels: pixels must be >= 0 (0 = no limit), got ", pixels);
  max_pixels().store(pixels);
}

ImageFormat sniff_image_format(const std::string& path) {
  detail::check_regular_file(path, "read_image");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  TORCH_CHECK(f != nullptr, "cannot open '", path, "': ", std::strerror(errno));
  unsigned char magic[8] = {0};
  const size_t n = std::fread(magic, 1, sizeof(magic), f);
  std::fclose(f);
  static const unsigned char kPng[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (n >= 8 && std::memcmp(magic, kPng, 8) == 0) return ImageFormat::PNG;
  if (n >= 3 && magic[0] == 0xFF && magic[1] == 0xD8 && magic[2] == 0xFF) return ImageFormat::JPEG;
  // Classic TIFF (42) and BigTIFF (43), both byte orders.
  if (n >= 4 && ((magic[0] == 'I' && magic[1] == 'I' && (magic[2] == 42 || magic[2] == 43) && magic[3] == 0) ||
                 (magic[0] == 'M' && magic[1] == 'M' && magic[2] == 0 && (magic[3] == 42 || magic[3] == 43))))
    return ImageFormat::TIFF;
  return ImageFormat::Unknown;
}

ImageInfo probe_image(const std::string& path) {
  switch (sniff_image_format(path)) {
    case ImageFormat::PNG: return detail::probe_png(path);
    case ImageFormat::JPEG: return detail::probe_jpeg(path);
    case ImageFormat::TIFF: return detail::probe_tiff(path);
    case ImageFormat::Unknown: break;
  }
  TORCH_CHECK(false, "probe_image: '", path, "' is not a PNG, JPEG or TIFF file (unrecognised magic bytes)");
}

at::Tensor read_image(const std::string& path) {
  switch (sniff_image_format(path)) {
    case ImageFormat::PNG: return detail::decode_png(path);
    case ImageFormat::JPEG: return detail::decode_jpeg(path);
    case ImageFormat::TIFF: return detail::decode_tiff(path);
    case ImageFormat::Unknown: break;
  }
  TORCH_CHECK(false, "read_image: '", path, "' is not a PNG, JPEG or TIFF file (unrecognised magic bytes)");
}

at::Tensor read_label_mask(const std::string& path) {
  TORCH_CHECK(sniff_image_format(path) == ImageFormat::TIFF, "read_label_mask: '", path,
              "' is not a TIFF file (label masks are read from single-channel integer or float TIFFs)");
  return detail::decode_tiff_labels(path);
}

at::Tensor read_image_planes(const std::string& path, std::optional<int64_t> page, std::optional<PixelRegion> region) {
  TORCH_CHECK(sniff_image_format(path) == ImageFormat::TIFF, "read_image_planes: '", path,
              "' is not a TIFF file (raw planes are read from TIFF/OME-TIFF; use read_image for PNG/JPEG)");
  return detail::decode_tiff_planes(path, page, region);
}

void write_png(const std::string& path, const at::Tensor& rgb_u8_hwc) {
  TORCH_CHECK(rgb_u8_hwc.scalar_type() == at::kByte, "write_png: image must be uint8, got ",
              rgb_u8_hwc.scalar_type());
  TORCH_CHECK(rgb_u8_hwc.device().is_cpu(), "write_png: image must be on the CPU, got ", rgb_u8_hwc.device());
  TORCH_CHECK(rgb_u8_hwc.dim() == 2 || rgb_u8_hwc.dim() == 3,
              "write_png: image must be [H, W] or [H, W, C], got ", rgb_u8_hwc.sizes());
  const int64_t channels = rgb_u8_hwc.dim() == 2 ? 1 : rgb_u8_hwc.size(2);
  TORCH_CHECK(channels == 1 || channels == 3 || channels == 4,
              "write_png: image must have 1, 3 or 4 channels, got ", channels);
  TORCH_CHECK(rgb_u8_hwc.size(0) > 0 && rgb_u8_hwc.size(1) > 0 && rgb_u8_hwc.size(0) <= INT32_MAX &&
                  rgb_u8_hwc.size(1) <= INT32_MAX,
              "write_png: image height and width must be in [1, 2^31), got ", rgb_u8_hwc.sizes());
  const at::Tensor pixels = rgb_u8_hwc.contiguous();
  png_image img;
  std::memset(&img, 0, sizeof(img));
  img.version = PNG_IMAGE_VERSION;
  img.width = static_cast<png_uint_32>(pixels.size(1));
  img.height = static_cast<png_uint_32>(pixels.size(0));
  img.format = channels == 1 ? PNG_FORMAT_GRAY : channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_RGBA;
  // Fast zlib settings: large noisy tissue images compress little better at higher levels, and
  // the default made writing a synthetic section several times slower.
  img.flags |= PNG_IMAGE_FLAG_FAST;
  const int ok = png_image_write_to_file(&img, path.c_str(), 0, pixels.data_ptr<uint8_t>(), 0, nullptr);
  const std::string message = img.message;
  png_image_free(&img);
  TORCH_CHECK(ok != 0, "write_png: cannot write '", path, "': ", message);
}

}  // namespace stx::data

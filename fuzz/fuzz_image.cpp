// libFuzzer target for the PNG/JPEG/TIFF decoders behind stx::data::read_image and the TIFF
// label-mask decoder behind stx::data::read_label_mask. The decoders
// take a path, so each input is written to a per-process file first. A c10::Error is the
// expected answer to a corrupt image; a crash or sanitizer report is a finding.
#include <c10/util/Exception.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include <tiffio.h>

#include <stx/data/image.h>

namespace {

// Declared TIFF size, read with libtiff (0 when it is not a TIFF libtiff opens), so that huge
// declared masks are skipped as a memory limit rather than reported.
int64_t tiff_pixels(const std::string& path) {
  TIFFSetErrorHandler(nullptr);
  TIFFSetWarningHandler(nullptr);
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  if (!tif) return 0;
  uint32_t w = 0, h = 0;
  TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
  TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
  TIFFClose(tif);
  const uint64_t pixels = uint64_t(w) * uint64_t(h);  // cannot overflow: both are 32-bit
  return pixels > (uint64_t(1) << 40) ? (int64_t(1) << 40) : int64_t(pixels);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = "/tmp/stx_fuzz_image_" + std::to_string(::getpid());
  std::FILE* f = std::fopen(path.c_str(), "wb");
  if (!f) return 0;
  std::fwrite(data, 1, size, f);
  std::fclose(f);
  try {
    const auto info = stx::data::probe_image(path);
    // Skip huge declared sizes: they are a memory limit, not a decoder bug.
    // (Each side is checked first: the product of two huge declared sides overflows int64.)
    const int64_t kMaxSide = int64_t(1) << 24;
    if (info.width <= kMaxSide && info.height <= kMaxSide && info.width * info.height <= kMaxSide) {
      (void)stx::data::read_image(path);
    }
  } catch (const c10::Error&) {
  }
  try {
    const int64_t pixels = tiff_pixels(path);
    if (pixels > 0 && pixels <= (int64_t(1) << 22)) (void)stx::data::read_label_mask(path);
  } catch (const c10::Error&) {
  }
  return 0;
}

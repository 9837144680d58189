// libFuzzer target for the PNG/JPEG/TIFF decoders behind stx::data::read_image, the TIFF
// label-mask decoder behind stx::data::read_label_mask and the raw-plane decoder behind
// stx::data::read_image_planes. The decoders
// take a path, so each input is written to a per-process file first. A c10::Error is the
// expected answer to a corrupt image; a crash or sanitizer report is a finding.
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <string>
#include <unistd.h>

#include <tiffio.h>

#include <stx/data/image.h>

namespace {

// Largest declared page of a TIFF in samples (width x height x samples per pixel), read with
// libtiff (0 when it is not a TIFF libtiff opens; at most 64 pages looked at), so that huge
// declared images are skipped as a memory limit rather than reported.
int64_t tiff_samples(const std::string& path) {
  TIFFSetErrorHandler(nullptr);
  TIFFSetWarningHandler(nullptr);
  TIFF* tif = TIFFOpen(path.c_str(), "r");
  if (!tif) return 0;
  uint64_t largest = 0;
  int pages = 0;
  do {
    uint32_t w = 0, h = 0;
    uint16_t samples = 1;
    TIFFGetField(tif, TIFFTAG_IMAGEWIDTH, &w);
    TIFFGetField(tif, TIFFTAG_IMAGELENGTH, &h);
    TIFFGetFieldDefaulted(tif, TIFFTAG_SAMPLESPERPIXEL, &samples);
    const uint64_t n = uint64_t(w) * uint64_t(h);  // cannot overflow: both are 32-bit
    largest = std::max(largest, n > (uint64_t(1) << 40) ? n : n * samples);  // n * samples < 2^56
  } while (++pages < 64 && TIFFReadDirectory(tif));
  const bool more = pages == 64;
  TIFFClose(tif);
  if (more) return int64_t(1) << 40;
  return largest > (uint64_t(1) << 40) ? (int64_t(1) << 40) : int64_t(largest);
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
  const int64_t samples = tiff_samples(path);
  if (samples > 0 && samples <= (int64_t(1) << 22)) {
    try {
      (void)stx::data::read_label_mask(path);
    } catch (const c10::Error&) {
    }
    try {
      (void)stx::data::read_image_planes(path);
    } catch (const c10::Error&) {
    }
    try {  // one page, one corner region: the windowed block walk
      (void)stx::data::read_image_planes(path, 0, stx::data::PixelRegion{1, 1, 2, 2});
    } catch (const c10::Error&) {
    }
  }
  return 0;
}

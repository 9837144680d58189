#pragma once
// Plain image files (PNG, JPEG, TIFF) to and from uint8 tensors.
//
// Decoding goes through the system libraries (libpng, libjpeg-turbo, libtiff); the format is
// taken from the file's magic bytes, not its extension. Whole-slide formats (SVS, NDPI, ...)
// go through stx::data::SlideReader instead.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>

#include <stx/macros.h>

namespace stx::data {

enum class ImageFormat { PNG, JPEG, TIFF, Unknown };

// Size and layout of an image file, read from its header without decoding the pixels.
struct ImageInfo {
  int64_t width = 0;
  int64_t height = 0;
  int64_t channels = 0;  // of the tensor read_image returns: 3 (RGB) or 4 (RGBA)
  ImageFormat format = ImageFormat::Unknown;
};

// Largest image the decoders allocate, in pixels (height x width x pages; a region counts its own
// size): a file declaring more is an error before any pixel memory is taken (a 100 KB JPEG can
// declare 30000 x 30000). Default 2^29 (536,870,912 px, 1.6 GB as RGB), or the environment's
// STX_MAX_IMAGE_PIXELS when set at first use; 0 means no limit. Whole slides go through
// SlideReader, which reads regions. Paths that are not regular files (FIFOs, devices,
// directories) are refused before they are opened, so no reader blocks on one.
STX_API int64_t max_image_pixels();
STX_API void set_max_image_pixels(int64_t pixels);

// Format from the first bytes of the file; Unknown when it is none of PNG/JPEG/TIFF.
STX_API ImageFormat sniff_image_format(const std::string& path);

STX_API ImageInfo probe_image(const std::string& path);

// Decodes the whole image to uint8 [H, W, C], C = 3 (RGB) or 4 (RGBA, when the file has
// alpha). Grey images are expanded to RGB; 16-bit PNGs are reduced to 8 bits. Errors name the
// file and what was wrong (missing, unknown format, truncated/corrupt, unsupported layout).
STX_API at::Tensor read_image(const std::string& path);

// A segmentation label mask (nucleus/cell instance ids, 0 = background) as int64 [H, W], from a
// single-channel TIFF whose samples are 8-64-bit integers or 32/64-bit floats holding integers
// (e.g. CosMx CellLabels_F*.tif). A negative, fractional or NaN value is an error naming the pixel.
STX_API at::Tensor read_label_mask(const std::string& path);

// The raw samples of a TIFF / OME-TIFF (fluorescence, e.g. Xenium's 16-bit DAPI
// morphology*.ome.tif) as [P, H, W], P = pages x samples per pixel, without rescaling: uint8,
// int8, int16, int32, int64, float32 and float64 keep their type, uint16 widens to int32 and
// uint32/uint64 to int64. Pages flagged as reduced-resolution (pyramid levels, thumbnails) are
// skipped; the others must share size and sample type. OME channels and z-planes stored as pages
// become planes in file order. With `page` set, only that full-resolution page (0-based, reduced
// pages not counted) is decoded, as [samples, H, W]: one channel or z-plane of a large stack. With
// `region`, only those pixels are returned ([P, height, width]) and only the strips or tiles that
// meet them are decoded.
struct PixelRegion {
  int64_t x = 0, y = 0, width = 0, height = 0;  // top-left column and row, size in pixels
};
STX_API at::Tensor read_image_planes(const std::string& path, std::optional<int64_t> page = std::nullopt,
                                     std::optional<PixelRegion> region = std::nullopt);

// Writes a uint8 [H, W, 3|4] (or [H, W] grey) CPU tensor as an 8-bit PNG.
STX_API void write_png(const std::string& path, const at::Tensor& rgb_u8_hwc);

}  // namespace stx::data

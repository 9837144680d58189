#pragma once
// Internal: one decoder per image format, used by image_io.cpp (read_image / probe_image).
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include <stx/data/image.h>

namespace stx::data::detail {

// Whole file in memory; the error names the file.
std::vector<uint8_t> read_file_bytes(const std::string& path);

// Errors unless `path` is a regular file (a FIFO would block the open forever). `op` names the caller.
void check_regular_file(const std::string& path, const char* op);

// Errors when an image of `pixels` pixels (declared by the file) is above max_image_pixels().
void check_pixels(const std::string& path, const char* op, int64_t height, int64_t width, int64_t planes = 1);

ImageInfo probe_png(const std::string& path);
at::Tensor decode_png(const std::string& path);

ImageInfo probe_jpeg(const std::string& path);
at::Tensor decode_jpeg(const std::string& path);

ImageInfo probe_tiff(const std::string& path);
at::Tensor decode_tiff(const std::string& path);
at::Tensor decode_tiff_labels(const std::string& path);
at::Tensor decode_tiff_planes(const std::string& path, std::optional<int64_t> page, std::optional<PixelRegion> region);

}  // namespace stx::data::detail

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

ImageInfo probe_png(const std::string& path);
at::Tensor decode_png(const std::string& path);

ImageInfo probe_jpeg(const std::string& path);
at::Tensor decode_jpeg(const std::string& path);

ImageInfo probe_tiff(const std::string& path);
at::Tensor decode_tiff(const std::string& path);
at::Tensor decode_tiff_labels(const std::string& path);
at::Tensor decode_tiff_planes(const std::string& path, std::optional<int64_t> page, std::optional<PixelRegion> region);

}  // namespace stx::data::detail

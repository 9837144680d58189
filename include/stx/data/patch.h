#pragma once
// Spot-centred patches cut from a slide at a target resolution, in parallel.
//
// For every centre (x, y) in level-0 pixels the extractor picks the coarsest pyramid level
// that is at least as fine as `target_mpp`, reads the footprint of the patch there and
// resamples it to size x size with an antialiased (triangle) filter whose support widens
// with the reduction factor, so a 4x reduction averages over 4 source pixels per axis. When
// the level is already within `snap_tolerance` of the target (e.g. 0.499 µm/px slide, 0.5
// target) the patch is a plain crop of that level, centred to the nearest pixel.
//
// Border policy: the part of a patch that falls outside the slide is filled with `fill`
// (white by default, like the slide background); with OutsidePolicy::Error such a patch is
// an error naming the spot index instead.
#include <ATen/core/Tensor.h>

#include <cstdint>
#include <string>

#include <stx/data/slide.h>
#include <stx/macros.h>

namespace stx::data {

struct PatchOptions {
  int64_t num_threads = 0;  // 0: at::get_num_threads()
  OutsidePolicy outside = OutsidePolicy::Fill;
  uint8_t fill = 255;
  double snap_tolerance = 0.01;  // relative; 0 always resamples
};

// centers_xy: [N, 2] (x, y) in level-0 pixels, any real or integer dtype, on the CPU.
// Returns uint8 [N, 3, size, size]. Needs the slide's µm/px (SlideReader's mpp).
STX_API at::Tensor extract_patches(const SlideReader& slide, const at::Tensor& centers_xy, double target_mpp,
                                   int64_t size, const PatchOptions& options = {});

// Same, cached in an HDF5 file: when `cache_path` holds patches made from the same slide
// file name, centres, target_mpp and size they are read back; otherwise they are extracted
// and written there (datasets /patches uint8 [N, 3, S, S] and /centers_xy float64 [N, 2],
// attributes slide, target_mpp, size).
STX_API at::Tensor extract_patches_cached(const SlideReader& slide, const at::Tensor& centers_xy, double target_mpp,
                                          int64_t size, const std::string& cache_path,
                                          const PatchOptions& options = {});

}  // namespace stx::data

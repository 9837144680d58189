#pragma once
// Whole-slide inference of a dense expression model by overlapping tiles (docs/pixnet.md), with
// memory bounded by one tile: the image is cut into cores of `tile` x `tile` pixels that partition
// it; each core is predicted from the core plus `margin` pixels of context on every side (clipped
// at the image), and only the core of the prediction is kept. Nothing of size G x H x W is formed:
//   - spot values: each core's map is read out with spot_pool (disk, sum) for the spots that meet
//     it; since the cores partition the image, the per-core sums add up to the whole-image disk sums;
//   - optionally a map downsampled by `downsample` (mean over f x f blocks), [G, ceil(H/f), ceil(W/f)].
// With a margin at least the model's receptive-field radius, and tile and margin multiples of the
// model's total stride, the result equals a whole-image forward up to float summation order.
#include <ATen/core/Tensor.h>

#include <functional>
#include <string>

#include <stx/macros.h>

namespace stx::train {

struct StitchOptions {
  int64_t tile = 512;       // core side (pixels)
  int64_t margin = 64;      // context on each side (pixels)
  int64_t downsample = 0;   // 0: no map; f >= 1: a map averaged over f x f blocks (tile % f == 0)
  std::string shape = "disk";  // spot_pool's region shape: "disk", or "square" (bins; radius = half side)
};

struct StitchResult {
  at::Tensor spots;     // [N, G] or [N, S, G]: disk sums over the whole image (empty without spots)
  at::Tensor coverage;  // [N] or [N, S]: covered in-image pixels
  at::Tensor map;       // [G, ceil(H/f), ceil(W/f)] (undefined when downsample = 0)
  int64_t tiles = 0;    // forwards run
};

// forward: [1, 3, h, w] float -> [1, G, h, w] (any device; results are gathered on the CPU).
// image: [3, H, W] float (already normalised as the model expects). centers [N, 2] (y, x) and
// radii [N] or [N, S] in image pixels, as spot_pool; N may be 0.
STX_API StitchResult stitched_predict(const std::function<at::Tensor(const at::Tensor&)>& forward,
                                      const at::Tensor& image, const at::Tensor& centers, const at::Tensor& radii,
                                      const StitchOptions& options = {});

}  // namespace stx::train

#pragma once
// HoVer-Net-style nucleus maps: the horizontal/vertical distance targets of an instance map, and the
// instance map recovered from a network's nuclear-pixel probability and distance maps by
// marker-controlled watershed. Definitions: docs/ops/nucleus_maps.md.
#include <ATen/Tensor.h>

#include <stx/stx.h>

namespace stx::ops {

// torch.ops.stx.hv_maps(Tensor instances) -> Tensor
// instances: 2-D integer map (0 background, positive ids). Returns float32 [2, H, W]: channel 0 the
// horizontal, channel 1 the vertical offset of each pixel from its nucleus' centroid, scaled per
// nucleus and side to [-1, 1] (negative offsets by the largest negative one, positive by the largest
// positive one); 0 on the background.
STX_API at::Tensor hv_maps(const at::Tensor& instances);

// torch.ops.stx.hv_instances(Tensor nuclear_prob, Tensor hv, float threshold=0.5,
//     float edge_threshold=0.4, int min_size=10) -> Tensor
// nuclear_prob [H, W], hv [2, H, W] (floating). Foreground = prob >= threshold; energy = 1 - the
// min-max normalised Sobel derivative of h along x (v along y), the larger of the two; markers =
// 8-connected foreground regions with energy < edge_threshold and at least min_size pixels; every
// foreground pixel is flooded from the markers in increasing energy (4-connected); foreground that
// no marker reaches becomes its own nuclei; nuclei under min_size pixels are dropped. Returns int64
// [H, W] with ids 1..n in raster order of each nucleus' first pixel.
STX_API at::Tensor hv_instances(const at::Tensor& nuclear_prob, const at::Tensor& hv, double threshold = 0.5,
                                double edge_threshold = 0.4, int64_t min_size = 10);

}  // namespace stx::ops

#pragma once
// Spot pooling: read a dense map [B, G, H, W] out inside spots of any size (disk, square or
// Gaussian), and its adjoint, spot_splat, which paints spot values into a map. Both go through
// the c10 dispatcher (CPU/CUDA kernels, autograd, torch.compile), like torch.ops.stx.* in Python.
// Conventions (pixel centres, coverage, empty spots): docs/ops/spot_pool.md.
#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <tuple>

#include <stx/stx.h>

namespace stx::ops {

// dense [B, G, H, W] (float32/float64/bfloat16/float16, contiguous or channels-last);
// centers [N, 3] (batch, y, x) or [N, 2] (y, x; batch 0), pixel units, pixel (i, j) centred at (i, j);
// radii [N] or [N, S] (S scales per spot, map read once per spot).
// shape: "disk" | "square" (half-side r) | "gaussian" (sigma * r, truncated to the disk);
// reduce: "sum" | "mean" (over covered in-image weight) | "area" (over the whole footprint).
// Returns (out [N, G] or [N, S, G], coverage [N] or [N, S] = sum of weights of covered in-image
// pixels). Differentiable in dense; centers and radii get no gradient.
STX_API std::tuple<at::Tensor, at::Tensor> spot_pool(const at::Tensor& dense, const at::Tensor& centers,
                                                     const at::Tensor& radii, c10::string_view shape = "disk",
                                                     c10::string_view reduce = "sum", double sigma = 0.5);

// The adjoint of spot_pool with the same arguments: values [N, G] / [N, S, G] -> map
// [batch_size, G, height, width]. Differentiable in values.
STX_API at::Tensor spot_splat(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii,
                              int64_t batch_size, int64_t height, int64_t width, c10::string_view shape = "disk",
                              c10::string_view reduce = "sum", double sigma = 0.5);

}  // namespace stx::ops

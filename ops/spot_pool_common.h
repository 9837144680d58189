#pragma once
// Shared by the spot_pool / spot_splat CPU and CUDA kernels: argument checks and the spot
// geometry (which pixels each spot covers, with which weight and normalisation).
//
// The geometry is built once on the host (centers/radii are small; CUDA inputs are copied to the
// host, which also lets every value check - batch index, NaN radii - run in one place). Each spot
// is a list of "rings", each ring a list of row segments:
//   * hard shapes (disk, square): scales are sorted by radius; ring k = scale order[k] minus the
//     next smaller scale, so the footprints are nested and every covered pixel is read once;
//     scale order[k] = sum of rings 0..k.
//   * gaussian: ring k = scale k (weights differ per scale, no nesting).
#include <ATen/core/Tensor.h>
#include <c10/util/string_view.h>

#include <cstdint>
#include <vector>

namespace stx::ops::detail {

enum class SpotShape { Disk, Square, Gaussian };
enum class SpotReduce { Sum, Mean, Area };

SpotShape parse_spot_shape(c10::string_view shape);
SpotReduce parse_spot_reduce(c10::string_view reduce);

struct SpotGeometry {
  int64_t num_spots = 0;
  int64_t num_scales = 1;  // S; radii [N] is S = 1
  int64_t batch = 0, height = 0, width = 0;
  bool nested = true;  // hard shapes: scale order[k] is the prefix sum of rings 0..k
  // Ring (n, k) owns segments [ring_begin[n*S+k], ring_begin[n*S+k+1]).
  std::vector<int64_t> ring_begin;
  std::vector<int32_t> ring_scale;  // [N*S] scale index produced by ring k
  // Segment: row, half-open column range [col0, col1); gaussian weights of its pixels start at
  // weight_offset (empty for hard shapes, whose weight is 1).
  std::vector<int32_t> seg_row, seg_col0, seg_col1;
  std::vector<int64_t> seg_weight;
  std::vector<double> weights;
  std::vector<double> norm;      // [N*S] by scale: 1, 1/coverage or 1/area (0 when empty)
  std::vector<double> coverage;  // [N*S] by scale: sum of weights of covered in-image pixels
  std::vector<int64_t> spot_batch;  // [N] batch image of each spot
  // Spots grouped by batch image: spots batch_spots[batch_begin[b] .. batch_begin[b+1]).
  std::vector<int64_t> batch_begin, batch_spots;

  int64_t num_segments() const { return static_cast<int64_t>(seg_row.size()); }
  bool weighted() const { return !seg_weight.empty(); }
};

// Validates centers ([N,3] (b, y, x) or [N,2] (y, x)), radii ([N] or [N,S]), sigma and the
// modes, then builds the geometry for an image batch of size B x H x W.
SpotGeometry build_spot_geometry(const at::Tensor& centers, const at::Tensor& radii, int64_t batch,
                                 int64_t height, int64_t width, c10::string_view shape,
                                 c10::string_view reduce, double sigma);

// Checks of the tensor arguments shared by the pool and splat kernels (names in messages).
void check_dense_map(const at::Tensor& dense, const char* name);
void check_spot_values(const at::Tensor& values, const at::Tensor& centers, const at::Tensor& radii);
void check_same_device(const at::Tensor& a, const char* a_name, const at::Tensor& b, const char* b_name);

// The largest radius reduce="area" accepts: 4 x max(height, width, 256) pixels (its footprint
// is walked ignoring the image bounds, so the work is bounded relative to the image).
double max_area_radius(int64_t height, int64_t width);

// Output shapes: [N, G] for radii [N], [N, S, G] for radii [N, S].
std::vector<int64_t> spot_output_shape(const at::Tensor& radii, int64_t channels);
std::vector<int64_t> spot_coverage_shape(const at::Tensor& radii);
// Coverage dtype: the map's dtype, float32 for bfloat16/float16 maps (counts stay exact).
c10::ScalarType spot_coverage_dtype(c10::ScalarType dense_dtype);

// Accumulation dtype of a map dtype: float64 for float64, float32 otherwise.
c10::ScalarType spot_acc_dtype(c10::ScalarType dtype);

// Device-agnostic glue between rings and scales (small [N, S, G] tensors, ATen ops):
// ring sums (acc dtype, ring order) -> pooled output [N, S, G] (scale order, normalised);
at::Tensor rings_to_scales(const SpotGeometry& g, const at::Tensor& ring_sums, c10::ScalarType out_dtype);
// spot values [N, S, G] (scale order) -> per-ring coefficient (acc dtype) that splat adds to
// every pixel of the ring (times its Gaussian weight).
at::Tensor ring_coefficients(const SpotGeometry& g, const at::Tensor& values);
// The coverage output [N] / [N, S] on `device`.
at::Tensor coverage_tensor(const SpotGeometry& g, const at::Tensor& radii, c10::ScalarType dense_dtype,
                           c10::Device device);

}  // namespace stx::ops::detail

#pragma once
// Instance maps (2-D integer tensors, 0 background, positive ids) as the CPU kernels of the
// instance-metric and nucleus-map families read them: the argument check and a dense relabelling.
#include <cstdint>
#include <vector>

#include <ATen/core/Tensor.h>

namespace stx::ops::instance {

// A CPU 2-D integer map, or a c10::Error naming `op` and the argument `name`.
void check_instance_map(const char* op, const char* name, const at::Tensor& map);

// A map's positive ids as dense indices 1..n in increasing id order; 0 stays background.
struct DenseMap {
  std::vector<int32_t> index;  // per pixel, row-major
  std::vector<int64_t> area;   // [n + 1]; area[0] counts background pixels
  int64_t count() const { return static_cast<int64_t>(area.size()) - 1; }
};

// Relabels a checked map; a negative id is an error naming `op` and `name`.
DenseMap densify(const char* op, const char* name, const at::Tensor& map);

}  // namespace stx::ops::instance

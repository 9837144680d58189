// Reading instance maps for the CPU kernels (ops/cpu/instance_maps.h).
#include "ops/cpu/instance_maps.h"

#include <algorithm>
#include <limits>
#include <unordered_map>
#include <unordered_set>

#include <ATen/ATen.h>

namespace stx::ops::instance {

void check_instance_map(const char* op, const char* name, const at::Tensor& map) {
  TORCH_CHECK(map.device().is_cpu(), op, ": ", name, " must be a CPU tensor, got one on ", map.device());
  TORCH_CHECK(map.dim() == 2, op, ": ", name, " must be a 2-D [H, W] map, got ", map.dim(), "-D");
  TORCH_CHECK(at::isIntegralType(map.scalar_type(), /*includeBool=*/false), op, ": ", name,
              " must hold integer labels, got ", map.scalar_type());
}

DenseMap densify(const char* op, const char* name, const at::Tensor& map) {
  const at::Tensor ids = map.to(at::kLong).contiguous();
  const int64_t* p = ids.const_data_ptr<int64_t>();
  const int64_t n = ids.numel();
  std::unordered_set<int64_t> seen;
  int64_t last = 0;
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(p[i] >= 0, op, ": ", name, " holds the negative label ", p[i], " (0 is background, ",
                "nuclei are positive)");
    if (p[i] != 0 && p[i] != last) seen.insert(last = p[i]);
  }
  std::vector<int64_t> sorted(seen.begin(), seen.end());
  std::sort(sorted.begin(), sorted.end());
  TORCH_CHECK(sorted.size() < static_cast<size_t>(std::numeric_limits<int32_t>::max()), op, ": ", name,
              " holds more than 2^31 - 1 nuclei");
  std::unordered_map<int64_t, int32_t> dense;
  dense.reserve(sorted.size());
  for (size_t i = 0; i < sorted.size(); ++i) dense.emplace(sorted[i], static_cast<int32_t>(i + 1));

  DenseMap out;
  out.index.resize(static_cast<size_t>(n));
  out.area.assign(sorted.size() + 1, 0);
  int64_t last_id = 0;
  int32_t last_index = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] != last_id) {
      last_id = p[i];
      last_index = last_id == 0 ? 0 : dense.at(last_id);
    }
    out.index[i] = last_index;
    ++out.area[last_index];
  }
  return out;
}

}  // namespace stx::ops::instance

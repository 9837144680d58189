// CUDA registrations of the nucleus-map family (host code, compiled only in the CUDA build): the CPU
// kernels run on host copies (the watershed is a priority flood, sequential by nature) and the
// results come back on the input's device.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "stx/ops/nucleus_maps.h"

namespace stx::ops::instance {
namespace {

at::Tensor hv_maps_via_host(const at::Tensor& instances) { return hv_maps(instances.cpu()).to(instances.device()); }

at::Tensor hv_instances_via_host(const at::Tensor& nuclear_prob, const at::Tensor& hv, double threshold,
                                 double edge_threshold, int64_t min_size) {
  TORCH_CHECK(hv.device() == nuclear_prob.device(), "hv_instances: hv is on ", hv.device(), " but nuclear_prob is on ",
              nuclear_prob.device());
  return hv_instances(nuclear_prob.cpu(), hv.cpu(), threshold, edge_threshold, min_size).to(nuclear_prob.device());
}

}  // namespace
}  // namespace stx::ops::instance

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("hv_maps", &stx::ops::instance::hv_maps_via_host);
  m.impl("hv_instances", &stx::ops::instance::hv_instances_via_host);
}

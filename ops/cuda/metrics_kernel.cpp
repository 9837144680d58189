// CUDA kernels of the metric family (host code, compiled only in the CUDA build): pearson_per_gene
// written with ATen ops (a few reductions that launch ATen's CUDA kernels; no custom kernel needed);
// morans_i runs its CPU kernel on a host copy (building the neighbour graph is host work and the
// inputs are an evaluation's [N, G] table) and returns the results on the device.
#include <limits>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/losses_centre.h"
#include "ops/losses_common.h"
#include "stx/ops/metrics.h"

namespace stx::ops::metrics {
namespace {

at::Tensor pearson_per_gene_cuda(const at::Tensor& pred, const at::Tensor& target, int64_t dim) {
  const int64_t d = losses::check_pearson("pearson_per_gene", pred, target, dim);
  const at::Tensor x = pred.to(at::kDouble), y = target.to(at::kDouble);
  const at::Tensor xc = losses::centred(x, d), yc = losses::centred(y, d);
  const at::Tensor sxx = xc.square().sum(d), syy = yc.square().sum(d);
  const at::Tensor r = (xc * yc).sum(d) / (sxx.sqrt() * syy.sqrt());
  return at::where((sxx > 0) & (syy > 0), r, std::numeric_limits<double>::quiet_NaN()).to(pred.scalar_type());
}

std::tuple<at::Tensor, at::Tensor> morans_i_via_host(const at::Tensor& values, const at::Tensor& coords,
                                                     c10::string_view weights, int64_t k, double radius) {
  TORCH_CHECK(coords.device() == values.device(), "morans_i: coords is on ", coords.device(), " but values is on ",
              values.device());
  auto [i, z] = morans_i(values.cpu(), coords.cpu(), weights, k, radius);
  return {i.to(values.device()), z.to(values.device())};
}

}  // namespace
}  // namespace stx::ops::metrics

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("pearson_per_gene", &stx::ops::metrics::pearson_per_gene_cuda);
  m.impl("morans_i", &stx::ops::metrics::morans_i_via_host);
}

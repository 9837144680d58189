// CUDA kernel of pearson_per_gene written with ATen ops (a few reductions; no custom kernel needed).
// morans_i has a CPU kernel only (graph construction is host work); see docs/ops/retrieval.md.
#ifdef STX_WITH_CUDA
#include <limits>

#include <ATen/ATen.h>
#include <torch/library.h>

#include "ops/losses_common.h"

namespace stx::ops::metrics {
namespace {

at::Tensor pearson_per_gene_aten(const at::Tensor& pred, const at::Tensor& target, int64_t dim) {
  const int64_t d = losses::check_pearson("pearson_per_gene", pred, target, dim);
  const at::Tensor x = pred.to(at::kDouble), y = target.to(at::kDouble);
  const at::Tensor xc = x - x.mean(d, true), yc = y - y.mean(d, true);
  const at::Tensor sxx = xc.square().sum(d), syy = yc.square().sum(d);
  const at::Tensor r = (xc * yc).sum(d) / (sxx.sqrt() * syy.sqrt());
  return at::where((sxx > 0) & (syy > 0), r, std::numeric_limits<double>::quiet_NaN()).to(pred.scalar_type());
}

}  // namespace
}  // namespace stx::ops::metrics

TORCH_LIBRARY_IMPL(stx, CUDA, m) { m.impl("pearson_per_gene", &stx::ops::metrics::pearson_per_gene_aten); }
#endif

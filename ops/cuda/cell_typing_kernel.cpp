// CUDA registrations of the cell-typing family (host code, compiled only in the CUDA build): the CPU
// kernels run on host copies (typing is a one-off over a cell table) and the results come back on
// the input's device.
#include <ATen/ATen.h>
#include <torch/library.h>

#include "stx/ops/cell_typing.h"

namespace stx::ops::cell_typing {
namespace {

using TensorPair = std::tuple<at::Tensor, at::Tensor>;

void check_device(const char* op, const char* name, const at::Tensor& t, const at::Tensor& expr) {
  TORCH_CHECK(t.device() == expr.device(), op, ": ", name, " is on ", t.device(), " but expr is on ", expr.device());
}

TensorPair on_device(TensorPair r, const at::Device& device) {
  return {std::get<0>(r).to(device), std::get<1>(r).to(device)};
}

TensorPair cell_type_reference_via_host(const at::Tensor& expr, const at::Tensor& ref_expr,
                                        const at::Tensor& ref_labels, int64_t num_types, c10::string_view method,
                                        int64_t k, double min_confidence) {
  check_device("cell_type_reference", "ref_expr", ref_expr, expr);
  check_device("cell_type_reference", "ref_labels", ref_labels, expr);
  return on_device(cell_type_reference(expr.cpu(), ref_expr.cpu(), ref_labels.cpu(), num_types, method, k,
                                       min_confidence),
                   expr.device());
}

TensorPair rank_marker_genes_via_host(const at::Tensor& expr, const at::Tensor& clusters, int64_t num_clusters,
                                      int64_t top_n) {
  check_device("rank_marker_genes", "clusters", clusters, expr);
  return on_device(rank_marker_genes(expr.cpu(), clusters.cpu(), num_clusters, top_n), expr.device());
}

TensorPair cell_type_markers_via_host(const at::Tensor& expr, const at::Tensor& clusters, const at::Tensor& markers,
                                      int64_t top_n, double min_score) {
  check_device("cell_type_markers", "clusters", clusters, expr);
  check_device("cell_type_markers", "markers", markers, expr);
  return on_device(cell_type_markers(expr.cpu(), clusters.cpu(), markers.cpu(), top_n, min_score), expr.device());
}

}  // namespace
}  // namespace stx::ops::cell_typing

TORCH_LIBRARY_IMPL(stx, CUDA, m) {
  m.impl("cell_type_reference", &stx::ops::cell_typing::cell_type_reference_via_host);
  m.impl("rank_marker_genes", &stx::ops::cell_typing::rank_marker_genes_via_host);
  m.impl("cell_type_markers", &stx::ops::cell_typing::cell_type_markers_via_host);
}

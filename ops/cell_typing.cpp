// Cell-typing family: schemas and the stx::ops C++ wrappers (through the dispatcher).
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/cell_typing.h>

namespace stx::ops {

using TensorPair = std::tuple<at::Tensor, at::Tensor>;

TensorPair cell_type_reference(const at::Tensor& expr, const at::Tensor& ref_expr, const at::Tensor& ref_labels,
                               int64_t num_types, c10::string_view method, int64_t k, double min_confidence) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::cell_type_reference", "")
                             .typed<TensorPair(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t,
                                               c10::string_view, int64_t, double)>();
  return op.call(expr, ref_expr, ref_labels, num_types, method, k, min_confidence);
}

TensorPair rank_marker_genes(const at::Tensor& expr, const at::Tensor& clusters, int64_t num_clusters,
                             int64_t top_n) {
  static const auto op = c10::Dispatcher::singleton()
                             .findSchemaOrThrow("stx::rank_marker_genes", "")
                             .typed<TensorPair(const at::Tensor&, const at::Tensor&, int64_t, int64_t)>();
  return op.call(expr, clusters, num_clusters, top_n);
}

TensorPair cell_type_markers(const at::Tensor& expr, const at::Tensor& clusters, const at::Tensor& markers,
                             int64_t top_n, double min_score) {
  static const auto op =
      c10::Dispatcher::singleton()
          .findSchemaOrThrow("stx::cell_type_markers", "")
          .typed<TensorPair(const at::Tensor&, const at::Tensor&, const at::Tensor&, int64_t, double)>();
  return op.call(expr, clusters, markers, top_n, min_score);
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "cell_type_reference(Tensor expr, Tensor ref_expr, Tensor ref_labels, int num_types, "
      "str method=\"centroid\", int k=15, float min_confidence=0.0) -> (Tensor labels, Tensor confidence)");
  m.def("rank_marker_genes(Tensor expr, Tensor clusters, int num_clusters, int top_n=20) -> (Tensor genes, Tensor scores)");
  m.def(
      "cell_type_markers(Tensor expr, Tensor clusters, Tensor markers, int top_n=20, float min_score=0.2) "
      "-> (Tensor labels, Tensor confidence)");
}

// Retrieval family: schemas (TORCH_LIBRARY_FRAGMENT) and the stx::ops C++ wrappers, which call
// through the dispatcher so C++ callers get device dispatch exactly like torch.ops.stx.*.
#include <ATen/core/dispatch/Dispatcher.h>
#include <torch/library.h>

#include <stx/ops/retrieval.h>

namespace stx::ops {
namespace {

using TopkSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, c10::SymInt,
                                                   c10::string_view, const std::optional<at::Tensor>&, bool);
using FilterSig = at::Tensor(const at::Tensor&, const at::Tensor&, int64_t, std::optional<int64_t>);
using FilteredSig = std::tuple<at::Tensor, at::Tensor, at::Tensor>(
    const at::Tensor&, const at::Tensor&, const at::Tensor&, c10::SymInt, int64_t, c10::string_view,
    const std::optional<at::Tensor>&, bool, std::optional<int64_t>);
using MergeSig = std::tuple<at::Tensor, at::Tensor>(const at::Tensor&, const at::Tensor&, c10::SymInt);

template <typename Sig>
c10::TypedOperatorHandle<Sig> find_op(const char* name) {
  return c10::Dispatcher::singleton().findSchemaOrThrow(name, "").typed<Sig>();
}

// filtered_topk is a composition of two dispatched ops (CompositeImplicitAutograd): each of them
// has its own CPU/CUDA kernels and fake kernel, so this needs none.
std::tuple<at::Tensor, at::Tensor, at::Tensor> filtered_topk_composite(
    const at::Tensor& query, const at::Tensor& bank, const at::Tensor& bank_labels, c10::SymInt k,
    int64_t num_types, c10::string_view metric, const std::optional<at::Tensor>& bank_mask, bool exclude_self,
    std::optional<int64_t> num_labels) {
  TORCH_CHECK(bank_labels.dim() == 1 && bank_labels.size(0) == bank.size(0),
              "filtered_topk: bank_labels must have shape [N]=[", bank.size(0), "], got ", bank_labels.sizes());
  static const auto topk = find_op<TopkSig>("stx::cosine_topk");
  static const auto filter = find_op<FilterSig>("stx::majority_filter");
  auto [scores, index] = topk.call(query, bank, std::move(k), metric, bank_mask, exclude_self);
  at::Tensor keep = filter.call(index, bank_labels, num_types, num_labels);
  return {scores, index, keep};
}

}  // namespace

std::tuple<at::Tensor, at::Tensor> cosine_topk(const at::Tensor& query, const at::Tensor& bank, int64_t k,
                                               c10::string_view metric, const std::optional<at::Tensor>& bank_mask,
                                               bool exclude_self) {
  static const auto op = find_op<TopkSig>("stx::cosine_topk");
  return op.call(query, bank, c10::SymInt(k), metric, bank_mask, exclude_self);
}

at::Tensor majority_filter(const at::Tensor& index, const at::Tensor& bank_labels, int64_t num_types,
                           std::optional<int64_t> num_labels) {
  static const auto op = find_op<FilterSig>("stx::majority_filter");
  return op.call(index, bank_labels, num_types, num_labels);
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> filtered_topk(const at::Tensor& query, const at::Tensor& bank,
                                                             const at::Tensor& bank_labels, int64_t k,
                                                             int64_t num_types, c10::string_view metric,
                                                             const std::optional<at::Tensor>& bank_mask,
                                                             bool exclude_self, std::optional<int64_t> num_labels) {
  static const auto op = find_op<FilteredSig>("stx::filtered_topk");
  return op.call(query, bank, bank_labels, c10::SymInt(k), num_types, metric, bank_mask, exclude_self, num_labels);
}

std::tuple<at::Tensor, at::Tensor> merge_topk(const at::Tensor& scores, const at::Tensor& index, int64_t k) {
  static const auto op = find_op<MergeSig>("stx::merge_topk");
  return op.call(scores, index, c10::SymInt(k));
}

}  // namespace stx::ops

TORCH_LIBRARY_FRAGMENT(stx, m) {
  m.def(
      "cosine_topk(Tensor query, Tensor bank, SymInt k, str metric=\"cosine\", Tensor? bank_mask=None, "
      "bool exclude_self=False) -> (Tensor scores, Tensor index)");
  m.def("majority_filter(Tensor index, Tensor bank_labels, int num_types, int? num_labels=None) -> Tensor keep");
  m.def(
      "filtered_topk(Tensor query, Tensor bank, Tensor bank_labels, SymInt k, int num_types, "
      "str metric=\"cosine\", Tensor? bank_mask=None, bool exclude_self=False, int? num_labels=None) "
      "-> (Tensor scores, Tensor index, Tensor keep)",
      TORCH_FN(stx::ops::filtered_topk_composite));
  m.def("merge_topk(Tensor scores, Tensor index, SymInt k) -> (Tensor scores, Tensor index)");
}

// stx._C.ops: facts about the operators that their front ends read instead of restating (the
// operators themselves are reached through torch.ops.stx).
#include <string>
#include <vector>

#include <stx/ops/instance_metrics.h>

#include "torch_ext/csrc/bindings.h"

namespace {

template <size_t N>
std::vector<std::string> names(const std::array<const char*, N>& columns) {
  return {columns.begin(), columns.end()};
}

}  // namespace

STX_PYTHON_BINDING(ops) {
  auto ops = m.def_submodule("ops", "facts about the torch.ops.stx operators, declared once in C++");
  ops.attr("instance_metric_columns") = names(stx::ops::kInstanceMetricColumns);
  ops.attr("class_pq_columns") = names(stx::ops::kClassPQColumns);
  ops.attr("class_f1_columns") = names(stx::ops::kClassF1Columns);
}

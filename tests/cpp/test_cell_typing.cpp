// C++ API of the cell-typing family on a hand-checked case.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stx/ops/cell_typing.h>

namespace {

TEST(CellTyping, CentroidAndKnnAgreeOnSeparatedTypes) {
  // Reference: type 0 expresses gene 0, type 1 gene 1; the cells are one of each and a blank one.
  const at::Tensor ref = at::tensor({3.0, 0.0, 0.1, 2.0, 0.2, 0.0, 0.0, 3.0, 0.1, 0.1, 2.0, 0.2}).view({4, 3});
  const at::Tensor ref_labels = at::tensor({0, 0, 1, 1}, at::kLong);
  const at::Tensor cells = at::tensor({4.0, 0.1, 0.0, 0.0, 5.0, 0.3, 0.0, 0.0, 0.0}).view({3, 3});
  for (const char* method : {"centroid", "knn"}) {
    auto [labels, confidence] = stx::ops::cell_type_reference(cells, ref, ref_labels, 2, method, 2, 0.5);
    EXPECT_EQ(labels[0].item<int64_t>(), 0) << method;
    EXPECT_EQ(labels[1].item<int64_t>(), 1) << method;
    EXPECT_EQ(labels[2].item<int64_t>(), -1) << method;  // no expression: unknown
    EXPECT_GE(confidence[0].item<double>(), 0.5) << method;
  }
}

}  // namespace

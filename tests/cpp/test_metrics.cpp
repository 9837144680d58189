// C++ API of the metric family on small hand-checked cases.
#include <gtest/gtest.h>

#include <cmath>

#include <ATen/ATen.h>

#include <stx/ops/metrics.h>

namespace {

TEST(Metrics, PearsonPerGene) {
  const at::Tensor x = at::tensor({1.0, 5.0, 2.0, 5.0, 3.0, 5.0}, at::kDouble).view({3, 2});
  const at::Tensor y = at::tensor({2.0, 1.0, 4.0, 2.0, 6.0, 3.0}, at::kDouble).view({3, 2});
  const at::Tensor r = stx::ops::pearson_per_gene(x, y);
  EXPECT_NEAR(r[0].item<double>(), 1.0, 1e-12);
  EXPECT_TRUE(std::isnan(r[1].item<double>()));  // constant prediction
}

TEST(Metrics, MoransIOnALineWithTwoNeighbours) {
  // 6 spots on a line, alternating values: every neighbour differs -> strongly negative I.
  const at::Tensor coords = at::stack({at::arange(6, at::kDouble), at::zeros({6}, at::kDouble)}, 1);
  const at::Tensor v = at::tensor({1.0, -1.0, 1.0, -1.0, 1.0, -1.0}, at::kDouble).view({6, 1});
  auto [I, z] = stx::ops::morans_i(v, coords, "radius", 0, 1.0);
  EXPECT_NEAR(I[0].item<double>(), -1.0, 1e-12);  // row-standardised: every lag is the opposite value
  EXPECT_LT(z[0].item<double>(), 0.0);
}

}  // namespace

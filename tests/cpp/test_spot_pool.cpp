// spot_pool / spot_splat / label_pool through the C++ API with autograd (no Python involved).
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include <stx/ops/label_pool.h>
#include <stx/ops/spot_pool.h>

namespace {

// Brute force: the disk mask of one spot over the whole image.
at::Tensor disk_mask(int64_t H, int64_t W, double cy, double cx, double r) {
  at::Tensor mask = at::zeros({H, W}, at::kDouble);
  auto m = mask.accessor<double, 2>();
  for (int64_t i = 0; i < H; ++i) {
    for (int64_t j = 0; j < W; ++j) {
      const double dy = static_cast<double>(i) - cy, dx = static_cast<double>(j) - cx;
      m[i][j] = dy * dy + dx * dx <= r * r ? 1.0 : 0.0;
    }
  }
  return mask;
}

TEST(SpotPool, ForwardAndBackwardMatchBruteForce) {
  at::manual_seed(0);
  const int64_t B = 2, G = 3, H = 12, W = 10;
  at::Tensor dense = at::randn({B, G, H, W}, at::kDouble).requires_grad_(true);
  at::Tensor centers = at::tensor({0.0, 4.2, 3.7, 1.0, 0.0, 9.5, 0.0, 11.0, 2.0}, at::kDouble).view({3, 3});
  at::Tensor radii = at::tensor({2.5, 3.0, 1.2}, at::kDouble);
  auto [out, coverage] = stx::ops::spot_pool(dense, centers, radii, "disk", "mean");
  ASSERT_EQ(out.sizes(), at::IntArrayRef({3, G}));
  EXPECT_TRUE(out.requires_grad());
  EXPECT_FALSE(coverage.requires_grad());

  at::Tensor weights = at::randn({3, G}, at::kDouble);
  (out * weights).sum().backward();

  at::Tensor expected_grad = at::zeros({B, G, H, W}, at::kDouble);
  for (int64_t n = 0; n < 3; ++n) {
    const int64_t b = centers[n][0].item<int64_t>();
    at::Tensor mask = disk_mask(H, W, centers[n][1].item<double>(), centers[n][2].item<double>(),
                                radii[n].item<double>());
    const double count = mask.sum().item<double>();
    EXPECT_EQ(coverage[n].item<double>(), count);
    at::Tensor ref = (dense.detach()[b] * mask).sum({1, 2}) / count;
    EXPECT_TRUE(at::allclose(out.detach()[n], ref, 1e-12, 1e-12));
    expected_grad[b] += weights[n].view({G, 1, 1}) * mask / count;
  }
  ASSERT_TRUE(dense.grad().defined());
  EXPECT_TRUE(at::allclose(dense.grad(), expected_grad, 1e-12, 1e-12));
}

TEST(SpotPool, SplatIsDifferentiableAndAdjoint) {
  at::manual_seed(1);
  at::Tensor centers = at::tensor({3.0, 3.5, 6.2, 1.0}, at::kDouble).view({2, 2});
  at::Tensor radii = at::tensor({2.0, 4.0, 1.0, 2.5}, at::kDouble).view({2, 2});  // two scales
  at::Tensor values = at::randn({2, 2, 4}, at::kDouble).requires_grad_(true);
  at::Tensor x = at::randn({1, 4, 8, 9}, at::kDouble);
  at::Tensor painted = stx::ops::spot_splat(values, centers, radii, 1, 8, 9, "gaussian", "area");
  (painted * x).sum().backward();
  at::Tensor pooled = std::get<0>(stx::ops::spot_pool(x, centers, radii, "gaussian", "area"));
  EXPECT_TRUE(at::allclose(values.grad(), pooled, 1e-12, 1e-12));
}

TEST(SpotPool, BadInputThrowsNamingTheArgument) {
  at::Tensor dense = at::zeros({1, 2, 5, 5});
  at::Tensor centers = at::zeros({1, 2});
  try {
    stx::ops::spot_pool(dense, centers, at::full({1}, -1.0));
    FAIL() << "negative radius accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("radii"), std::string::npos);
  }
  EXPECT_THROW(stx::ops::spot_pool(dense[0], centers, at::ones({1})), c10::Error);
}

TEST(LabelPool, ForwardAndBackwardThroughCppApi) {
  at::Tensor dense = at::arange(2 * 3 * 4, at::kDouble).view({1, 2, 3, 4}).requires_grad_(true);
  at::Tensor labels = at::tensor({0, 1, 1, 2, 0, 2, 2, 2, 0, 0, 1, 0}, at::kLong).view({1, 3, 4});
  auto [out, count] = stx::ops::label_pool(dense, labels, 3, "mean");
  EXPECT_TRUE(at::equal(count, at::tensor({0, 3, 4}, at::kLong).view({1, 3})));
  // Channel 0 holds 0..11: label 1 at pixels {1, 2, 10}, label 2 at {3, 5, 6, 7}.
  EXPECT_DOUBLE_EQ(out[0][1][0].item<double>(), 13.0 / 3.0);
  EXPECT_DOUBLE_EQ(out[0][2][0].item<double>(), 21.0 / 4.0);
  EXPECT_DOUBLE_EQ(out[0][0][1].item<double>(), 0.0);
  out.sum().backward();
  EXPECT_DOUBLE_EQ(dense.grad()[0][1][0][1].item<double>(), 1.0 / 3.0);
  EXPECT_DOUBLE_EQ(dense.grad()[0][0][1][1].item<double>(), 1.0 / 4.0);
  EXPECT_DOUBLE_EQ(dense.grad()[0][0][0][0].item<double>(), 0.0);
  EXPECT_THROW(stx::ops::label_pool(dense, labels, 2), c10::Error);  // label 2 >= num_labels
}

}  // namespace

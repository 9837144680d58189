// C++ API of the loss family: values and gradients against closed forms.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stx/ops/losses.h>

namespace {

TEST(Losses, SoftLabelLossGatesPerSample) {
  const at::Tensor pred = at::zeros({2, 2}, at::kDouble).requires_grad_();
  const at::Tensor target = at::ones({2, 2}, at::kDouble);
  const at::Tensor soft = at::full({2, 2}, 2.0, at::kDouble);
  const at::Tensor conf = at::tensor({0.5, 0.0}, at::kDouble);
  const at::Tensor loss = stx::ops::soft_label_loss(pred, target, soft, conf, 0.5, 0.1);
  // mse 1 + 0.5 * (2 elements of (0-2)^2 = 8) / 4 = 2
  EXPECT_DOUBLE_EQ(loss.item<double>(), 2.0);
  loss.backward();
  EXPECT_TRUE(at::allclose(pred.grad(), at::tensor({-1.0, -1.0, -0.5, -0.5}, at::kDouble).view({2, 2})));
}

TEST(Losses, PearsonLossIsZeroForPerfectCorrelation) {
  const at::Tensor x = at::randn({50, 4}, at::kDouble);
  EXPECT_NEAR(stx::ops::pearson_loss(x, 3 * x + 1).item<double>(), 0.0, 1e-9);
  EXPECT_NEAR(stx::ops::pearson_loss(x, -x).item<double>(), 2.0, 1e-9);
}

TEST(Losses, ContrastiveLossOfIdenticalOrthogonalPairsIsSmall) {
  const at::Tensor a = at::eye(4, at::kDouble).requires_grad_();
  const at::Tensor loss = stx::ops::contrastive_loss(a, at::eye(4, at::kDouble), 0.05);
  EXPECT_LT(loss.item<double>(), 1e-6);
  loss.backward();
  EXPECT_TRUE(a.grad().defined());
}

}  // namespace

// C++ API of the retrieval family (stx::ops wrappers through the dispatcher) against brute force.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stx/ops/retrieval.h>
#include <stx/ops/soft_labels.h>

namespace {

// Full cosine similarity + stable descending sort (ties -> lower index), first k columns.
std::tuple<at::Tensor, at::Tensor> brute_force(const at::Tensor& q, const at::Tensor& b, int64_t k) {
  const at::Tensor qn = q / q.norm(2, {1}, true).clamp_min(1e-12);
  const at::Tensor bn = b / b.norm(2, {1}, true).clamp_min(1e-12);
  auto [s, i] = at::sort(at::mm(qn, bn.t()), /*stable=*/true, /*dim=*/1, /*descending=*/true);
  return {s.narrow(1, 0, k), i.narrow(1, 0, k)};
}

TEST(Retrieval, CosineTopkMatchesBruteForceAcrossTiles) {
  at::manual_seed(0);
  const at::Tensor q = at::randn({37, 16}, at::kDouble), b = at::randn({5000, 16}, at::kDouble);
  auto [s, i] = stx::ops::cosine_topk(q, b, 12);
  auto [rs, ri] = brute_force(q, b, 12);
  EXPECT_TRUE(at::equal(i, ri));
  EXPECT_TRUE(at::allclose(s, rs, 0, 1e-12));
}

TEST(Retrieval, PadsWhenFewerCandidatesAndHonoursMask) {
  const at::Tensor b = at::eye(3, at::kFloat);
  const at::Tensor mask = at::tensor({1, 0, 1}).to(at::kBool);
  auto [s, i] = stx::ops::cosine_topk(b, b, 4, "ip", mask, /*exclude_self=*/true);
  EXPECT_EQ(i.sizes(), (at::IntArrayRef{3, 4}));
  EXPECT_EQ(i[0][0].item<int64_t>(), 2);  // 0 excluded (self), 1 masked, 2 scores 0
  EXPECT_EQ(i[0][1].item<int64_t>(), -1);
  EXPECT_TRUE(std::isinf(s[0][1].item<float>()) && s[0][1].item<float>() < 0);
  EXPECT_EQ(i[1][0].item<int64_t>(), 0);  // query 1: self is masked anyway; 0 and 2 tie -> 0 first
  EXPECT_EQ(i[1][1].item<int64_t>(), 2);
}

TEST(Retrieval, L2MetricFindsNearestCentroid) {
  const at::Tensor centroids = at::tensor({0.0, 0.0, 10.0, 0.0, 0.0, 10.0}, at::kDouble).view({3, 2});
  const at::Tensor pts = at::tensor({9.0, 1.0, 1.0, 8.0}, at::kDouble).view({2, 2});
  auto [s, i] = stx::ops::cosine_topk(pts, centroids, 1, "l2");
  EXPECT_EQ(i[0][0].item<int64_t>(), 1);
  EXPECT_EQ(i[1][0].item<int64_t>(), 2);
  EXPECT_DOUBLE_EQ(s[0][0].item<double>(), -2.0);
}

TEST(Retrieval, FilteredTopkAndMerge) {
  const at::Tensor labels = at::tensor({0, 1, 1, 0, 1}, at::kLong);
  const at::Tensor index = at::tensor({0, 1, 2, 3, 4, -1}, at::kLong).view({1, 6});
  const at::Tensor keep = stx::ops::majority_filter(index, labels, 1);
  EXPECT_TRUE(at::equal(keep, at::tensor({0, 1, 1, 0, 1, 0}).to(at::kBool).view({1, 6})));
  const at::Tensor ps = at::tensor({0.9, 0.5, 0.8, 0.5}, at::kDouble).view({2, 1, 2});
  const at::Tensor pi = at::tensor({7, 3, 1, 2}, at::kLong).view({2, 1, 2});
  auto [s, i] = stx::ops::merge_topk(ps, pi, 3);
  EXPECT_TRUE(at::equal(i, at::tensor({7, 1, 2}, at::kLong).view({1, 3})));  // 0.5 tie: index 2 before 3
}

TEST(Retrieval, BadInputsNameTheArgument) {
  const at::Tensor q = at::randn({2, 4}), b = at::randn({5, 3});
  try {
    stx::ops::cosine_topk(q, b, 2);
    FAIL() << "mismatched D accepted";
  } catch (const c10::Error& e) {
    EXPECT_NE(std::string(e.what()).find("bank has D=3"), std::string::npos);
  }
  EXPECT_THROW(stx::ops::cosine_topk(q, at::randn({5, 4}), 0), c10::Error);
}

TEST(SoftLabels, GradientFlowsToBankValues) {
  const at::Tensor index = at::tensor({0, 2, -1}, at::kLong).view({1, 3});
  const at::Tensor scores = at::tensor({0.5, 0.3, -1.0}, at::kDouble).view({1, 3});
  const at::Tensor bank = at::arange(6, at::kDouble).view({3, 2}).requires_grad_();
  auto [soft, conf] = stx::ops::soft_labels(index, scores, std::nullopt, bank, "mean");
  EXPECT_TRUE(at::allclose(soft, at::tensor({2.0, 3.0}, at::kDouble).view({1, 2})));
  EXPECT_DOUBLE_EQ(conf[0].item<double>(), 0.4);
  soft.sum().backward();
  EXPECT_TRUE(at::allclose(bank.grad(), at::tensor({0.5, 0.5, 0.0, 0.0, 0.5, 0.5}, at::kDouble).view({3, 2})));
}

}  // namespace

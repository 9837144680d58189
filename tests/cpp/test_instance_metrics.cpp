// C++ API of the instance-metric family on a hand-checked case.
#include <gtest/gtest.h>

#include <cmath>

#include <ATen/ATen.h>

#include <stx/ops/instance_metrics.h>

namespace {

TEST(InstanceMetrics, OneMatchAndOneFalsePositive) {
  at::Tensor t = at::zeros({6, 8}, at::kInt);
  at::Tensor p = at::zeros({6, 8}, at::kInt);
  t.slice(0, 1, 3).slice(1, 1, 3).fill_(7);  // 4 px
  p.slice(0, 1, 3).slice(1, 1, 4).fill_(3);  // 6 px covering it: IoU 4/6
  p.slice(0, 4, 5).slice(1, 5, 7).fill_(9);  // 2 px: a false positive
  const at::Tensor m = stx::ops::instance_metrics(t, p);
  ASSERT_EQ(m.numel(), static_cast<int64_t>(stx::ops::kInstanceMetricColumns.size()));
  const double* r = m.const_data_ptr<double>();
  EXPECT_NEAR(r[0], 8.0 / 12.0, 1e-12);            // dice
  EXPECT_NEAR(r[1], 4.0 / 8.0, 1e-12);             // aji
  EXPECT_NEAR(r[2], 1.0 / 1.5, 1e-12);             // dq
  EXPECT_NEAR(r[3], 4.0 / 6.0, 1e-12);             // sq
  EXPECT_NEAR(r[4], (4.0 / 6.0) / 1.5, 1e-12);     // pq
  EXPECT_EQ(r[5], 1.0);
  EXPECT_EQ(r[6], 1.0);
  EXPECT_EQ(r[7], 0.0);
}

TEST(InstanceMetrics, ClassMetricsOfAMisclassifiedMatch) {
  at::Tensor t = at::zeros({4, 4}, at::kLong);
  t.slice(0, 0, 2).fill_(5);
  const at::Tensor true_type = (t > 0).to(at::kLong) * 2;  // class 2
  const at::Tensor pred_type = (t > 0).to(at::kLong);      // predicted class 1
  auto [pq, f1] = stx::ops::instance_class_metrics(t, t, true_type, pred_type, 2);
  EXPECT_EQ(pq.size(0), 2);
  EXPECT_EQ(pq[1][5].item<double>(), 1.0);  // class 2: one false negative
  EXPECT_EQ(pq[0][4].item<double>(), 1.0);  // class 1: one false positive
  EXPECT_EQ(f1[1][3].item<double>(), 1.0);
  EXPECT_EQ(f1[0][0].item<double>(), 0.0);
}

}  // namespace

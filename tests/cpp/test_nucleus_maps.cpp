// C++ API of the nucleus-map family on hand-checked cases.
#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <stx/ops/nucleus_maps.h>

namespace {

TEST(NucleusMaps, HvMapsOfARowNucleus) {
  at::Tensor inst = at::zeros({1, 5}, at::kLong);
  inst.slice(1, 1, 4).fill_(3);  // x = 1, 2, 3: centroid 2
  const at::Tensor hv = stx::ops::hv_maps(inst);
  EXPECT_EQ(hv.sizes(), (std::vector<int64_t>{2, 1, 5}));
  const at::Tensor want = at::tensor({0.0f, -1.0f, 0.0f, 1.0f, 0.0f}).view({1, 5});
  EXPECT_TRUE(at::equal(hv[0], want));
  EXPECT_TRUE(at::equal(hv[1], at::zeros({1, 5})));
}

TEST(NucleusMaps, TwoTouchingNucleiAreSeparated) {
  at::Tensor inst = at::zeros({8, 14}, at::kLong);
  inst.slice(0, 1, 7).slice(1, 1, 7).fill_(1);
  inst.slice(0, 1, 7).slice(1, 7, 13).fill_(2);  // touching along x = 6 | 7
  const at::Tensor out = stx::ops::hv_instances((inst > 0).to(at::kFloat), stx::ops::hv_maps(inst), 0.5, 0.4, 4);
  EXPECT_EQ(out.max().item<int64_t>(), 2);
  EXPECT_TRUE(at::equal(out, inst));
}

}  // namespace
